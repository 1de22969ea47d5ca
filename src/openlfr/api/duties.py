"""What ``openlfr serve`` runs beside the requests: the live pipeline for open deployments, the purge,
and the webhook notifier. Each is a coroutine function ``duty(app)`` started with the app."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import httpx
from fastapi import FastAPI

from openlfr.api.broker import AlertBroker, AlertMessage
from openlfr.api.security import sign_body
from openlfr.config import Settings
from openlfr.governance import deployments
from openlfr.governance.retention import purge, service_identity
from openlfr.retro.cases import purge_cases
from openlfr.store import Store, utcnow

log = logging.getLogger(__name__)


def default_duties(settings: Settings) -> list[Any]:
    duties: list[Any] = []
    if settings.server.webhook_url:
        duties.append(webhook_notifier)
    if settings.server.run_purge:
        duties.append(scheduled_purge)
    if settings.server.run_live and settings.server.camera_sources:
        duties.append(live_runner)
    if settings.bus.url:  # camera workers publish on the bus: the central side runs here
        from openlfr.api.bus_service import bus_central

        duties.append(bus_central)
    return duties


async def scheduled_purge(app: FastAPI) -> None:
    """Run the retention purge now and every ``retention.purge_interval_minutes`` (audited by governance)."""
    store: Store = app.state.store
    interval = store.settings.retention.purge_interval_minutes * 60
    while True:
        try:
            # Audited as the named service identity (rule 8), not an anonymous "system".
            service = service_identity(store.settings)
            report = await asyncio.to_thread(purge, store, service)
            app.state.last_purge = report.as_dict()
            # RFR cases past their retention go the same way (issue 13), audited by retro.
            app.state.last_purge["retro_cases"] = await asyncio.to_thread(purge_cases, store, service)
        except Exception:
            log.exception("scheduled purge failed; will retry at the next interval")
        await asyncio.sleep(interval)


async def live_runner(app: FastAPI) -> None:
    """Start the live pipeline for each open deployment in its window whose cameras have sources
    (``server.camera_sources``); the pipeline itself stops when the deployment closes or its window ends
    (rule 1 is re-checked by governance on every alert and periodically by the workers)."""
    from openlfr.governance.live_gateway import DeploymentGateway
    from openlfr.live import LivePipeline, parse_source

    store: Store = app.state.store
    broker: AlertBroker = app.state.broker
    sources = store.settings.server.camera_sources
    running: dict[str, Any] = {}
    app.state.live_pipelines = running
    try:
        while True:
            now = utcnow()
            for dep in await asyncio.to_thread(deployments.list_deployments, store, "open"):
                current = running.get(dep.id)
                if current is not None and current.running():
                    continue
                if current is not None or not dep.in_window(now):
                    continue  # ran and ended: not restarted (a file has ended; a stream reconnects itself)
                specs = [parse_source(sources[c], camera_id=c) for c in dep.cameras if c in sources]
                if not specs:
                    continue
                try:
                    gateway = DeploymentGateway(store, dep.id)
                    pipeline = await asyncio.to_thread(
                        LivePipeline, specs, gateway, store.settings, on_alert=lambda _a: broker.wake()
                    )
                    pipeline.start()
                    running[dep.id] = pipeline
                    app.state.live_metrics[dep.id] = pipeline
                    log.info("live pipeline started for deployment %s (%d cameras)", dep.id, len(specs))
                except Exception:
                    log.exception("cannot start the live pipeline for deployment %s", dep.id)
                    running[dep.id] = _Failed()
            await asyncio.sleep(store.settings.server.live_check_seconds)
    finally:
        for p in running.values():
            p.stop()


class _Failed:
    def running(self) -> bool:
        return False

    def stop(self) -> None:
        pass


def webhook_payload(message: AlertMessage) -> dict[str, Any]:
    """What the webhook carries: the alert's facts and a link, never an image."""
    keys = (
        "id",
        "seq",
        "deployment_id",
        "camera_id",
        "subject_id",
        "category",
        "category_label",
        "score",
        "threshold",
        "observed_at",
        "raised_at",
        "url",
    )
    return {"type": "alert.raised", "alert": {k: message.get(k) for k in keys}}


def signed_request(secret: str, payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Body and headers: ``X-OpenLFR-Timestamp`` and ``X-OpenLFR-Signature: sha256=HMAC(secret, ts.body)``.
    The receiver recomputes the HMAC and rejects old timestamps (replay)."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    ts = str(int(time.time()))
    return body, {
        "Content-Type": "application/json",
        "X-OpenLFR-Timestamp": ts,
        "X-OpenLFR-Signature": sign_body(secret, body, ts),
    }


async def webhook_notifier(app: FastAPI) -> None:
    """POST every new alert to ``server.webhook_url``, signed with HMAC-SHA256; retried 3 times."""
    settings: Settings = app.state.settings
    url, secret = settings.server.webhook_url, settings.server.webhook_secret
    if not url:
        return
    if not secret:
        log.error("server.webhook_url is set but server.webhook_secret is not: the webhook is off")
        return
    broker: AlertBroker = app.state.broker
    queue: asyncio.Queue[AlertMessage] = asyncio.Queue(maxsize=10_000)
    broker.listeners.append(lambda m: queue.put_nowait(m))
    async with httpx.AsyncClient(timeout=settings.server.webhook_timeout_s) as client:
        while True:
            message = await queue.get()
            body, headers = signed_request(secret, webhook_payload(message))
            for attempt in range(3):
                try:
                    r = await client.post(url, content=body, headers=headers)
                    if r.status_code < 300:
                        break
                    log.warning("webhook answered %s for alert %s", r.status_code, message.get("id"))
                except httpx.HTTPError as exc:
                    log.warning("webhook failed for alert %s: %s", message.get("id"), exc)
                await asyncio.sleep(0.5 * 2**attempt)
