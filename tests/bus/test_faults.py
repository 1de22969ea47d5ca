"""Faults lose nothing: each test counts the alerts that reached the bus against the alerts stored centrally
(equal, and no alert stored twice). Publishers and central consumers are real processes, killed for real."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from openlfr.store import utcnow
from openlfr.store.models import Alert
from openlfr.vision import FaceEngine
from tests.bus.conftest import (
    RedisServer,
    bus_settings,
    start_central,
    start_publisher,
    stored_deployment,
)
from tests.bus.helpers import central_thread, sent_alert_ids, wait_until_stored


class Lines:
    """A process's stdout lines, read in a thread (so a test can wait for the n-th without blocking)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.lines = proc, list[str]()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def raised(self) -> list[str]:
        return [ln.split()[1] for ln in self.lines if ln.startswith("raised ")]

    def wait_raised(self, n: int, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while len(self.raised()) < n:
            if time.monotonic() > end or (self.proc.poll() is not None and len(self.raised()) < n):
                err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
                raise AssertionError(
                    f"publisher raised {len(self.raised())} of {n}: {self.lines[-3:]} {err[-800:]}"
                )
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout=timeout)
        self._t.join(timeout=5)
        return rc


def _assert_nothing_lost(
    store: object, settings: object, dep_id: str, min_sent: int
) -> tuple[set[str], list[str]]:
    sent, stored = wait_until_stored(store, settings, dep_id, timeout=40, min_sent=min_sent)  # type: ignore[arg-type]
    assert len(stored) == len(set(stored)), "an alert was stored twice"
    assert set(stored) == sent, f"{len(sent)} alerts sent, {len(stored)} stored"
    return sent, stored


def test_kill_9_of_a_worker_mid_alert_then_restart(
    tmp_path: Path, redis_url: str, engine: FaceEngine
) -> None:
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine)
    with central_thread(store, settings):
        first = Lines(start_publisher(settings, dep_id, 1000, 40))
        first.wait_raised(25)
        os.kill(first.proc.pid, signal.SIGKILL)
        assert first.finish() == -signal.SIGKILL
        second = Lines(start_publisher(settings, dep_id, 30, 40))
        assert second.finish() == 0, second.lines[-3:]
        sent, _stored = _assert_nothing_lost(store, settings, dep_id, min_sent=30)
    assert set(second.raised()) <= sent  # the restarted worker delivered everything it raised
    # What the killed one raised reached the bus, except at most what still sat in its outbox.
    assert len(set(first.raised()) & sent) >= len(first.raised()) - 5
    assert len(sent) >= 25 + 30 - 5


def test_redis_stopped_for_10_s_then_started_again(
    tmp_path: Path, private_redis: RedisServer, engine: FaceEngine
) -> None:
    # The lease outlives the outage, so the worker keeps scanning and queues what it raises meanwhile.
    settings, store, dep_id = stored_deployment(
        tmp_path, bus_settings(private_redis.url, lease_s=20.0), engine
    )
    with central_thread(store, settings) as central:
        pub = Lines(start_publisher(settings, dep_id, 150, 10))
        pub.wait_raised(20)
        private_redis.stop()
        t0 = time.monotonic()
        pub.wait_raised(60, timeout=20)  # still raising while the bus is down
        time.sleep(max(0.0, 10 - (time.monotonic() - t0)))
        private_redis.start()
        assert pub.finish(timeout=90) == 0, pub.lines[-3:]
        assert pub.lines[-1].endswith("left 0"), pub.lines[-1]
        sent, _stored = _assert_nothing_lost(store, settings, dep_id, min_sent=150)
        assert central.stats.bus_errors > 0  # the consumer saw the outage and reconnected
    assert len(sent) == 150 and set(pub.raised()) == sent


def test_central_consumer_restarted_while_workers_keep_publishing(
    tmp_path: Path, redis_url: str, engine: FaceEngine, database_url: str | None
) -> None:
    settings, store, dep_id = stored_deployment(
        tmp_path, bus_settings(redis_url, lease_s=15.0), engine, database_url
    )
    c1 = start_central(settings, "c1")
    pubs = [Lines(start_publisher(settings, dep_id, 60, 20)) for _ in range(2)]
    try:
        pubs[0].wait_raised(20)
        os.kill(c1.pid, signal.SIGKILL)  # mid-stream: entries delivered to c1 stay pending, unacknowledged
        c1.wait(timeout=10)
        time.sleep(1.0)
        c2 = start_central(settings, "c2")  # another name: c1's pending entries are reclaimed (XAUTOCLAIM)
        try:
            for p in pubs:
                assert p.finish(timeout=90) == 0, p.lines[-3:]
            sent, _stored = _assert_nothing_lost(store, settings, dep_id, min_sent=120)
        finally:
            c2.terminate()
            c2.wait(timeout=10)
    finally:
        if c1.poll() is None:
            c1.kill()
    assert len(sent) == 120
    assert len(sent_alert_ids(settings)) >= 120


@pytest.mark.parametrize("offset_s", [-300, 300])
def test_worker_clock_five_minutes_off(
    tmp_path: Path, redis_url: str, engine: FaceEngine, offset_s: int
) -> None:
    # The deployment's window opened 5 minutes ago: a worker 5 minutes slow would stamp its alerts before it.
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine)
    with central_thread(store, settings) as central:
        pub = Lines(start_publisher(settings, dep_id, 10, 20, "--clock-offset-s", str(offset_s)))
        assert pub.finish() == 0, pub.lines[-3:]
        _, stored = _assert_nothing_lost(store, settings, dep_id, min_sent=10)
        assert central.stats.alerts_rejected == 0
    now = utcnow()
    with store.session() as s:  # type: ignore[attr-defined]
        seen = list(s.scalars(select(Alert.observed_at).where(Alert.deployment_id == dep_id)))
    assert len(seen) == 10
    for at in seen:  # stamped with the bus's time, not the worker's
        at = at if at.tzinfo else at.replace(tzinfo=now.tzinfo)
        assert abs(at - now) < timedelta(seconds=60)
    assert len(stored) == 10
