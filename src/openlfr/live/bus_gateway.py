"""A camera worker's gateway: the live pipeline's :class:`~openlfr.live.gateway.LiveGateway` over the stream bus.

The pipeline runs unchanged; this gateway

* holds the deployment's watchlist in memory (the :class:`~openlfr.governance.bus.WorkerKit` fetched at
  start) and drops it with :meth:`BusGateway.close`;
* answers ``check_can_scan`` from the lease alone (rule 1 across the split): a background thread re-reads
  the lease's remaining time to live every heartbeat, and the lease runs out on this machine's monotonic
  clock, so a worker cut off from the bus, or whose wall clock is wrong, still stops when it ends;
* gives each alert a fresh id, encrypts its crops with the deployment's alerts key, and queues it in a
  bounded outbox that the same thread sends with ``XADD``, retrying with back-off while the bus is down
  (an entry sent twice after a lost reply is stored once: the id is the key);
* stamps alerts with the bus's time (the worker's clock corrected by its measured offset from Redis), so
  a worker whose clock is off still reports when the face was seen;
* publishes counter increments and a heartbeat (state, lease left, outbox length, frames) every beat.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import redis

from openlfr.config import BusSettings
from openlfr.governance.bus import (
    BUS_DOWN,
    Backoff,
    BusNames,
    WorkerKit,
    bus_time_ms,
    connect,
    encode_alert,
    encode_counts,
)
from openlfr.governance.deployments import DeploymentInfo
from openlfr.live.gateway import Counts, NewAlert, ScanRefused
from openlfr.matching.watchlist_index import WatchlistIndex

log = logging.getLogger(__name__)


class OutboxFull(ScanRefused):
    """The bus has been unreachable so long that the outbox is full: the worker stops rather than lose alerts."""


class BusGateway:
    """The live gateway of a camera worker for one deployment (see the module's docstring)."""

    def __init__(
        self,
        kit: WorkerKit,
        bus: BusSettings,
        *,
        worker: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._kit: WorkerKit | None = kit
        self._deployment = kit.deployment
        self.bus = bus
        self.names = BusNames.of(bus)
        self.worker = worker or f"worker-{uuid.uuid4().hex[:8]}"
        self.wall_clock = wall_clock
        self._local = threading.local()  # one client per thread: redis-py's connections are not shared
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque()
        self._lock = threading.Lock()
        self._lease_deadline = 0.0  # monotonic time the lease runs out; 0: none held
        self._lease_reason = "no lease from the central service yet"
        self._offset_s = 0.0  # bus time minus this machine's wall clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(bus.reconnect_max_s)
        self.connected = False
        self.alerts_sent = 0
        """Alerts the bus accepted (XADD returned)."""
        self.state = "starting"
        self.status: Callable[[], Mapping[str, Any]] = dict

    # -- LiveGateway ------------------------------------------------------------------------------------------
    @property
    def deployment(self) -> DeploymentInfo:
        return self._deployment

    def check_can_scan(self, camera_id: str, at: datetime | None = None) -> None:
        """Refuse unless ``camera_id`` is the deployment's and the lease is held now.

        ``at`` is ignored: the worker's wall clock is not trusted; the lease's end is measured on the
        monotonic clock from the time to live the bus reported.
        """
        if camera_id not in self._deployment.cameras:
            raise ScanRefused(
                f"camera {camera_id!r} is not one of deployment {self._deployment.id}'s cameras"
            )
        left = self.lease_left_s()
        if left <= 0:
            raise ScanRefused(
                f"deployment {self._deployment.id}: {self._lease_reason}; nothing may be scanned"
            )

    def watchlist(self) -> tuple[WatchlistIndex, dict[str, Any]]:
        if self._kit is None:
            raise ScanRefused(f"deployment {self._deployment.id}'s watchlist was dropped by this worker")
        return self._kit.index, dict(self._kit.subjects)

    def raise_alert(self, alert: NewAlert) -> str:
        """Queue the alert for the bus and return its id (minted here; the central store keeps one per id)."""
        self.check_can_scan(alert.camera_id)
        kit = self._kit
        if kit is None:
            raise ScanRefused("the worker has dropped its watchlist")
        alert_id = uuid.uuid4().hex
        # The bus's time, not this machine's: a worker whose clock is off still stamps alerts right.
        observed = alert.observed_at + timedelta(seconds=self._offset_s)
        fields = encode_alert(
            kit.alerts_key, self._deployment.id, alert_id, _replace_time(alert, observed), self.worker
        )
        self._enqueue(self.names.alerts, fields)
        return alert_id

    def record_counters(self, camera_id: str, counts: Counts) -> None:
        if counts:
            fields = encode_counts(self._deployment.id, camera_id, counts, uuid.uuid4().hex, self.worker)
            self._enqueue(self.names.events, fields)

    # -- outbox, lease and heartbeat --------------------------------------------------------------------------
    def _enqueue(self, stream: str, fields: dict[str, Any]) -> None:
        with self._lock:
            if len(self._outbox) >= self.bus.outbox_max:
                raise OutboxFull(
                    f"{len(self._outbox)} messages wait for the bus (bus.outbox_max): the worker stops scanning"
                )
            self._outbox.append((stream, fields))

    @property
    def outbox(self) -> int:
        return len(self._outbox)

    def lease_left_s(self) -> float:
        return max(0.0, self._lease_deadline - time.monotonic())

    @property
    def redis(self) -> redis.Redis:
        r: redis.Redis | None = getattr(self._local, "r", None)
        if r is None:
            r = self._local.r = connect(self.bus)
        return r

    def refresh_lease(self) -> float:
        """Read the lease's time to live and the bus's clock; returns the seconds of lease left."""
        asked = time.monotonic()
        wall = self.wall_clock()
        pipe = self.redis.pipeline(transaction=True)
        pipe.pttl(self.names.lease(self._deployment.id))
        pipe.time()
        ttl_ms, (sec, usec) = pipe.execute()
        back = time.monotonic()
        self._offset_s = (int(sec) + int(usec) / 1e6) - (wall + (back - asked) / 2)
        if ttl_ms is None or int(ttl_ms) < 0:
            self._lease_deadline = 0.0
            self._lease_reason = "the central service holds no lease for it (closed, outside its window)"
        else:
            # Counted from when the question was asked: the lease never outlives its grant here.
            self._lease_deadline = asked + int(ttl_ms) / 1000
            self._lease_reason = "its lease ran out (the central service stopped renewing it)"
        return self.lease_left_s()

    def wait_for_lease(self, timeout_s: float) -> bool:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            try:
                if self.refresh_lease() > 0:
                    return True
            except BUS_DOWN:
                pass
            time.sleep(min(0.2, self.bus.heartbeat_s))
        return False

    def flush(self) -> int:
        """Send what the outbox holds; returns how many were sent. Raises a bus error if it is down."""
        sent = 0
        while True:
            with self._lock:
                if not self._outbox:
                    return sent
                stream, fields = self._outbox[0]
            r: Any = self.redis  # redis-py types field values narrowly; ours are str and bytes
            r.xadd(stream, fields, maxlen=self.bus.max_stream_len, approximate=True)
            with self._lock:
                self._outbox.popleft()
            if stream == self.names.alerts:
                self.alerts_sent += 1
            sent += 1

    def heartbeat(self) -> None:
        status = dict(self.status())
        at_ms = bus_time_ms(self.redis)
        hb = {
            "deployment_id": self._deployment.id,
            "cameras": list(self._deployment.cameras),
            "at_ms": at_ms,
            "state": self.state,
            "lease_left_s": round(self.lease_left_s(), 3),
            "outbox": self.outbox,
            "cpu_s": round(time.process_time(), 3),
            **status,
        }
        self.redis.hset(self.names.workers, self.worker, json.dumps(hb))

    def _loop(self) -> None:
        next_beat = next_lease = 0.0
        while not self._stop.is_set():
            try:
                # The lease twice a beat: with the central tick (a quarter beat) and the pipeline's check
                # (a quarter beat), a withdrawn lease stops scanning within one heartbeat.
                if time.monotonic() >= next_lease:
                    next_lease = time.monotonic() + self.bus.heartbeat_s / 2
                    self.refresh_lease()
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + self.bus.heartbeat_s
                    self.heartbeat()
                self.flush()
                if not self.connected:
                    log.info("worker %s connected to the bus", self.worker)
                self.connected = True
                self._backoff.succeeded()
                self._stop.wait(0.02)
            except BUS_DOWN as exc:
                if self.connected:
                    log.warning("bus unreachable (%s); %d messages wait in the outbox", exc, self.outbox)
                self.connected = False
                self._stop.wait(self._backoff.failed())

    def start(self) -> None:
        """Start the thread that renews the lease, beats and empties the outbox."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=f"bus-{self.worker}", daemon=True)
            self._thread.start()

    def close(self, flush_timeout_s: float = 10.0) -> int:
        """Drop the watchlist, try to empty the outbox for up to ``flush_timeout_s``; returns what is left."""
        self._kit = None
        self.state = "stopped"
        end = time.monotonic() + flush_timeout_s
        while self.outbox and time.monotonic() < end and self._thread is not None and self._thread.is_alive():
            time.sleep(0.05)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.bus.heartbeat_s + 2)
        try:
            self.flush()
            self.heartbeat()
        except BUS_DOWN:
            pass
        return self.outbox


def _replace_time(alert: NewAlert, observed: datetime) -> NewAlert:
    from dataclasses import replace

    return replace(alert, observed_at=observed)
