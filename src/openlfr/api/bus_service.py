"""The central side of the stream bus inside ``openlfr serve`` (when ``bus.url`` is set): a background duty
that runs :class:`~openlfr.governance.bus_consumer.CentralConsumer`, and ``GET /api/bus/metrics`` with the
workers' health and the streams' lag in Prometheus text (supervisors and auditors)."""

from __future__ import annotations

import asyncio
import threading

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse

from openlfr.api import roles
from openlfr.api.deps import require_roles
from openlfr.governance.bus_consumer import CentralConsumer, bus_prometheus_text

router = APIRouter(tags=["bus"])


async def bus_central(app: FastAPI) -> None:
    """Run the central consumer in a thread until the app stops; new alerts wake the console's broker."""
    broker = app.state.broker
    consumer = CentralConsumer(app.state.store, app.state.settings, on_alert=lambda _id: broker.wake())
    app.state.bus_consumer = consumer
    stop = threading.Event()
    try:
        await asyncio.to_thread(consumer.run, stop)
    finally:
        stop.set()


@router.get(
    "/api/bus/metrics",
    response_class=PlainTextResponse,
    summary="Camera workers' heartbeat age, lease and outbox; stream pending and lag (Prometheus text)",
)
def bus_metrics(request: Request, _p: object = Depends(require_roles(*roles.VIEW_RECORD))) -> str:
    consumer: CentralConsumer | None = getattr(request.app.state, "bus_consumer", None)
    if consumer is None:
        raise HTTPException(404, "no stream bus configured (bus.url)")
    return bus_prometheus_text(consumer)
