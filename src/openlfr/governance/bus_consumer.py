"""The central side of the stream bus: grants leases, stores what camera workers publish, reports their health.

:class:`CentralConsumer` runs in ``openlfr serve`` (when ``bus.url`` is set) or ``openlfr central``. Each
tick it renews the lease of every open deployment inside its window and withdraws the others' (rule 1 across
the split), then reads both streams in the consumer group. An alert goes through governance's
:class:`~openlfr.governance.live_gateway.DeploymentGateway` exactly as in the single-process mode (rule 1
re-checked at its observed time, the threshold recorded, crops stored encrypted, audited), with the worker's
alert id: a redelivered entry finds its alert already stored and is only acknowledged. An entry is
acknowledged after its effect is committed; if the store is unreachable it stays pending and is retried, and a
consumer that dies leaves its pending entries to be reclaimed (``XAUTOCLAIM``) by the next one.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from sqlalchemy.exc import IntegrityError, OperationalError

from openlfr.config import Settings
from openlfr.governance.bus import (
    BUS_DOWN,
    Backoff,
    BusError,
    BusNames,
    Fields,
    alert_header,
    bus_time_ms,
    connect,
    decode_alert,
    decode_counts,
    lease_payload,
    lease_ttl_ms,
)
from openlfr.governance.bus_kit import serve_kit_requests
from openlfr.governance.deployments import list_deployments
from openlfr.governance.errors import GovernanceError
from openlfr.governance.live_contract import Counts, NewAlert
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.store import Store, utcnow
from openlfr.store.crypto import CryptoError

log = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    """What this consumer did since it started (the Prometheus counters read these)."""

    alerts_stored: int = 0
    alerts_duplicate: int = 0
    alerts_rejected: int = 0
    counts_recorded: int = 0
    messages_malformed: int = 0
    reclaimed: int = 0
    bus_errors: int = 0
    kits_served: int = 0
    """Kit requests answered (handed over or refused; each is audited)."""
    leases: dict[str, int] = field(default_factory=dict)
    """Deployment id -> lease time to live last granted (ms)."""


@dataclass(frozen=True)
class WorkerHealth:
    """One camera worker as the central service sees it."""

    worker: str
    deployment_id: str
    cameras: list[str]
    heartbeat_age_s: float
    state: str
    lease_left_s: float
    outbox: int
    frames_processed: int
    frames_dropped: int
    cpu_s: float = 0.0
    """CPU time the worker's process has used (all its cameras)."""
    at_ms: int = 0
    """The heartbeat's time on the bus's clock."""


class CentralConsumer:
    """Leases, alert storage and counters for every deployment's camera workers."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        *,
        name: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        on_alert: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or store.settings
        self.bus = self.settings.bus
        self.names = BusNames.of(self.bus)
        self.name = name or f"central-{uuid.uuid4().hex[:8]}"
        self.clock = clock
        self.on_alert = on_alert
        self.stats = ConsumerStats()
        self._local = threading.local()  # one client per thread: the health page asks from another one
        self._gateways: dict[str, DeploymentGateway] = {}
        self._last_claim = 0.0
        self._backoff = Backoff(self.bus.reconnect_max_s)
        self.connected = False

    # -- connection -------------------------------------------------------------------------------------------
    @property
    def redis(self) -> redis.Redis:
        r: redis.Redis | None = getattr(self._local, "r", None)
        if r is None:
            r = self._local.r = connect(self.bus)
        return r

    def ensure_groups(self) -> None:
        for stream in (self.names.alerts, self.names.events):
            try:
                self.redis.xgroup_create(stream, self.bus.group, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # -- leases (rule 1) ----------------------------------------------------------------------------------------
    def renew_leases(self) -> dict[str, int]:
        """Grant or renew the lease of each open deployment in its window; withdraw every other lease."""
        now = self.clock()
        granted: dict[str, int] = {}
        pipe = self.redis.pipeline(transaction=False)
        for dep in list_deployments(self.store, "open"):
            ttl = lease_ttl_ms(dep, self.bus, now)
            if ttl > 0:
                pipe.set(self.names.lease(dep.id), lease_payload(dep), px=ttl)
                granted[dep.id] = ttl
        pipe.execute()
        for key in self.redis.scan_iter(match=self.names.lease_pattern, count=1000):
            dep_id = (key.decode() if isinstance(key, bytes) else str(key)).rsplit(":", 1)[-1]
            if dep_id not in granted:
                self.redis.delete(key)
                log.info("lease of deployment %s withdrawn (closed or outside its window)", dep_id)
        self.stats.leases = granted
        return granted

    # -- consuming ----------------------------------------------------------------------------------------------
    def _gateway(self, deployment_id: str) -> DeploymentGateway:
        gw = self._gateways.get(deployment_id)
        if gw is None:
            gw = DeploymentGateway(self.store, deployment_id, clock=self.clock)
            self._gateways[deployment_id] = gw
        return gw

    def _alerts_keys(self, deployment_id: str) -> list[bytes]:
        """The deployment's alerts key generations, newest first: a worker encrypts with the one key its kit
        holds, which is the newest at the time it got the kit (a worker started before a rotation still
        holds the one before)."""
        with self.store.session() as s:
            ring = self.store.keys.get(s, deployment_id, "alerts")
        return [ring.keys[g] for g in sorted(ring.keys, reverse=True)]

    def _decode(self, dep_id: str, fields: Fields) -> tuple[str, str, NewAlert]:
        keys = self._alerts_keys(dep_id)
        for key in keys[:-1]:
            try:
                return decode_alert(key, fields)
            except CryptoError:
                continue  # an older generation's kit
        return decode_alert(keys[-1], fields)

    def handle_alert(self, fields: Fields) -> bool:
        """Store one alert entry; True when it may be acknowledged (stored, duplicate or refused for good)."""
        try:
            alert_id, dep_id = alert_header(fields)
            alert_id, dep_id, alert = self._decode(dep_id, fields)
        except (BusError, CryptoError, GovernanceError) as exc:
            # Unusable for good (malformed, tampered, unknown or destroyed deployment): never retried.
            self.stats.messages_malformed += 1
            log.error("alert entry dropped: %s", exc)
            return True
        gw = self._gateway(dep_id)
        try:
            with self.store.session() as s:
                from openlfr.store.models import Alert

                seen = s.query(Alert.id).filter(Alert.id == alert_id).first() is not None
            stored_id = gw.raise_alert(alert, alert_id=alert_id)
        except IntegrityError:
            # Two consumers stored the same redelivered entry at once: the other one's row stands.
            self.stats.alerts_duplicate += 1
            return True
        except GovernanceError as exc:
            # Rule 1 or 2 refused it (deployment closed, camera not in it, score below threshold...).
            self.stats.alerts_rejected += 1
            log.warning("alert %s from the bus refused: %s", alert_id, exc)
            return True
        if seen:
            self.stats.alerts_duplicate += 1
        else:
            self.stats.alerts_stored += 1
            if self.on_alert is not None:
                self.on_alert(stored_id)
        return True

    def handle_events(self, entries: list[tuple[Any, Fields]]) -> None:
        """Record a batch of counter messages: summed per camera, one store transaction per camera, then
        marked done and acknowledged. A message already marked done (redelivered) is only acknowledged."""
        stream, group = self.names.events, self.bus.group
        todo: list[tuple[Any, str, str, str, Counts]] = []
        for entry_id, fields in entries:
            try:
                todo.append((entry_id, *decode_counts(fields)))
            except BusError as exc:
                self.stats.messages_malformed += 1
                log.error("event entry dropped: %s", exc)
                self.redis.xack(stream, group, entry_id)
        if not todo:
            return
        done_keys = [f"{self.names.prefix}:done:{t[1]}" for t in todo]
        seen = self.redis.pipeline(transaction=False)
        for k in done_keys:
            seen.exists(k)
        fresh = [t for t, was in zip(todo, seen.execute(), strict=True) if not was]
        sums: dict[tuple[str, str], Counts] = {}
        for _, _, dep_id, camera_id, c in fresh:
            prev = sums.get((dep_id, camera_id), Counts())
            sums[(dep_id, camera_id)] = Counts(**{k: v + c.as_dict()[k] for k, v in prev.as_dict().items()})
        for (dep_id, camera_id), total in sums.items():
            try:
                self._gateway(dep_id).record_counters(camera_id, total)
            except GovernanceError as exc:
                log.warning("counts from the bus refused: %s", exc)
        # Marked done after the commit: a crash in between counts a batch once more, never less.
        ttl = max(3600, int(self.bus.claim_idle_s * 10))
        mark = self.redis.pipeline(transaction=False)
        for k in done_keys:
            mark.set(k, "1", ex=ttl)
        mark.xack(stream, group, *[t[0] for t in todo])
        mark.execute()
        self.stats.counts_recorded += len(fresh)

    def _handle(self, stream: str, entries: list[tuple[Any, Fields]]) -> None:
        gone = [entry_id for entry_id, fields in entries if not fields]  # trimmed while pending
        if gone:
            self.redis.xack(stream, self.bus.group, *gone)
        live = [(entry_id, fields) for entry_id, fields in entries if fields]
        if stream == self.names.events:
            self.handle_events(live)
            return
        for entry_id, fields in live:
            if self.handle_alert(fields):
                self.redis.xack(stream, self.bus.group, entry_id)

    def reclaim(self) -> int:
        """Take over entries another (dead) consumer was given but never acknowledged."""
        n = 0
        idle_ms = int(self.bus.claim_idle_s * 1000)
        for stream in (self.names.alerts, self.names.events):
            start = "0-0"
            while True:
                res = self.redis.xautoclaim(stream, self.bus.group, self.name, idle_ms, start, count=100)
                start, entries = res[0], res[1]
                entries = [(i, f) for i, f in entries if f is not None]
                n += len(entries)
                self._handle(stream, entries)
                if start in (b"0-0", "0-0"):
                    break
        self.stats.reclaimed += n
        return n

    def _read(self, streams: dict[str, str], block_ms: int | None = None) -> int:
        r: Any = self.redis  # redis-py's stubs type the reply as a union of everything
        n = 0
        for stream, entries in (
            r.xreadgroup(self.bus.group, self.name, streams, count=100, block=block_ms) or []
        ):
            self._handle(stream.decode() if isinstance(stream, bytes) else str(stream), entries)
            n += len(entries)
        return n

    def poll_once(self, block_ms: int = 200) -> int:
        """Own pending entries first (after a restart under the same name), then new ones."""
        n = self._read({self.names.alerts: "0", self.names.events: "0"})
        if time.monotonic() - self._last_claim >= self.bus.claim_idle_s:
            self._last_claim = time.monotonic()
            n += self.reclaim()
        return n + self._read({self.names.alerts: ">", self.names.events: ">"}, block_ms)

    def run(self, stop: threading.Event) -> None:
        """Until ``stop``: renew leases every heartbeat, consume in between; back off while the bus is down."""
        last_lease = 0.0
        while not stop.is_set():
            try:
                if not self.connected:
                    self.ensure_groups()
                    self.connected = True
                    self._backoff.succeeded()
                    log.info("central consumer %s connected to the bus", self.name)
                if time.monotonic() - last_lease >= self.bus.heartbeat_s / 4:
                    self.renew_leases()
                    last_lease = time.monotonic()
                self.stats.kits_served += serve_kit_requests(self.store, self.settings, self.redis)
                self.poll_once(block_ms=int(self.bus.heartbeat_s * 200))
            except BUS_DOWN as exc:
                self.connected = False
                self.stats.bus_errors += 1
                wait = self._backoff.failed()
                log.warning("bus unreachable (%s); retrying in %.1f s", exc, wait)
                stop.wait(wait)
            except OperationalError as exc:  # the database is down: entries stay pending and come back
                log.warning("store unreachable (%s); retrying", exc)
                stop.wait(self._backoff.failed())

    # -- operations ---------------------------------------------------------------------------------------------
    def pending(self) -> dict[str, int]:
        """Entries delivered but not yet acknowledged, and entries not yet delivered, per stream."""
        out: dict[str, int] = {}
        for label, stream in (("alerts", self.names.alerts), ("events", self.names.events)):
            try:
                groups = self.redis.xinfo_groups(stream)
            except redis.ResponseError:
                continue
            for g in groups:
                gname = g["name"].decode() if isinstance(g["name"], bytes) else g["name"]
                if gname == self.bus.group:
                    out[f"{label}_pending"] = int(g.get("pending") or 0)
                    out[f"{label}_lag"] = int(g.get("lag") or 0)
        return out

    def workers(self) -> list[WorkerHealth]:
        """Every worker that has reported, with the age of its last heartbeat in the bus's time. A worker
        silent for ``bus.forget_worker_hours`` is forgotten (its entry removed)."""
        now_ms = bus_time_ms(self.redis)
        out = []
        for wid, raw in sorted(self.redis.hgetall(self.names.workers).items()):
            try:
                hb = json.loads(raw)
            except ValueError:
                continue
            if now_ms - int(hb.get("at_ms", 0)) > self.bus.forget_worker_hours * 3_600_000:
                self.redis.hdel(self.names.workers, wid)
                continue
            out.append(
                WorkerHealth(
                    worker=wid.decode() if isinstance(wid, bytes) else str(wid),
                    deployment_id=str(hb.get("deployment_id", "")),
                    cameras=list(hb.get("cameras", [])),
                    heartbeat_age_s=max(0.0, (now_ms - int(hb.get("at_ms", 0))) / 1000),
                    state=str(hb.get("state", "")),
                    lease_left_s=float(hb.get("lease_left_s", 0.0)),
                    outbox=int(hb.get("outbox", 0)),
                    frames_processed=int(hb.get("frames_processed", 0)),
                    frames_dropped=int(hb.get("frames_dropped", 0)),
                    cpu_s=float(hb.get("cpu_s", 0.0)),
                    at_ms=int(hb.get("at_ms", 0)),
                )
            )
        return out


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def bus_prometheus_text(consumer: CentralConsumer) -> str:
    """Prometheus text exposition of the bus: each worker's heartbeat age, lease, outbox and frames; each
    stream's pending entries and lag; this consumer's counters. Counts and timings only (rule 3)."""
    lines: list[str] = []
    try:
        workers, pending = consumer.workers(), consumer.pending()
        up = 1
    except BUS_DOWN:
        workers, pending, up = [], {}, 0
    lines += ["# TYPE openlfr_bus_up gauge", f"openlfr_bus_up {up}"]
    per_worker = (
        ("openlfr_worker_heartbeat_age_seconds", "gauge", lambda w: round(w.heartbeat_age_s, 3)),
        ("openlfr_worker_lease_seconds_left", "gauge", lambda w: round(w.lease_left_s, 3)),
        ("openlfr_worker_outbox_messages", "gauge", lambda w: w.outbox),
        ("openlfr_worker_frames_processed_total", "counter", lambda w: w.frames_processed),
        ("openlfr_worker_frames_dropped_total", "counter", lambda w: w.frames_dropped),
        ("openlfr_worker_cpu_seconds_total", "counter", lambda w: w.cpu_s),
    )
    for name, kind, value in per_worker:
        lines.append(f"# TYPE {name} {kind}")
        for w in workers:
            lines.append(
                f'{name}{{worker="{_label(w.worker)}",deployment="{_label(w.deployment_id)}"}} {value(w)}'
            )
    for name in ("pending", "lag"):
        lines.append(f"# TYPE openlfr_bus_{name}_entries gauge")
        for stream in ("alerts", "events"):
            if f"{stream}_{name}" in pending:
                lines.append(f'openlfr_bus_{name}_entries{{stream="{stream}"}} {pending[f"{stream}_{name}"]}')
    st = consumer.stats
    for name, v in (
        ("alerts_stored", st.alerts_stored),
        ("alerts_duplicate", st.alerts_duplicate),
        ("alerts_rejected", st.alerts_rejected),
        ("counts_recorded", st.counts_recorded),
        ("messages_malformed", st.messages_malformed),
        ("entries_reclaimed", st.reclaimed),
        ("errors", st.bus_errors),
        ("kit_requests", st.kits_served),
    ):
        lines += [f"# TYPE openlfr_bus_{name}_total counter", f"openlfr_bus_{name}_total {v}"]
    return "\n".join(lines) + "\n"
