"""``openlfr worker`` on a real clip: its alert reaches the central store through the bus, its counters too,
and it stops when the deployment closes (rule 1 across the split)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from openlfr.governance.deployment_closing import close_deployment
from openlfr.store.models import Alert, CameraCounter
from openlfr.vision import FaceEngine
from tests.bus.conftest import ROOT, bus_settings, child_env, stored_deployment
from tests.bus.helpers import central_thread, wait_until_stored

EXIT_NO_LEASE = 3


def _worker(settings: object, dep_id: str, clip: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from openlfr.cli import app; app()",
            "worker",
            "-d",
            dep_id,
            "-s",
            f"stage={clip}",
            "--name",
            "van-1",
            *extra,
        ],
        cwd=ROOT,
        env=child_env(settings),  # type: ignore[arg-type]
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_worker_alert_and_counters_reach_the_central_store(
    tmp_path: Path, redis_url: str, engine: FaceEngine, hamilton: Path
) -> None:
    settings, store, dep_id = stored_deployment(tmp_path, bus_settings(redis_url), engine)
    with central_thread(store, settings) as central:
        proc = _worker(settings, dep_id, hamilton, "--fast")
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out[-2000:]
        sent, stored = wait_until_stored(store, settings, dep_id)
        assert set(stored) == sent and len(sent) == 1
        assert any(w.worker == "van-1" and w.frames_processed > 0 for w in central.workers())
    with store.session() as s:  # type: ignore[attr-defined]
        alert = s.scalars(select(Alert).where(Alert.deployment_id == dep_id)).one()
        assert alert.subject_id == "lin_manuel_miranda" and alert.id in out
        key = store.keys.get(s, dep_id, "alerts")  # type: ignore[attr-defined]
        assert store.blobs.get(dep_id, alert.probe_blob, key)[:2] == b"\xff\xd8"  # type: ignore[attr-defined]
        counter = s.scalars(select(CameraCounter).where(CameraCounter.deployment_id == dep_id)).one()
        assert counter.frames_processed > 200 and counter.faces_seen > 0


def test_worker_stops_when_the_deployment_closes(
    tmp_path: Path, redis_url: str, engine: FaceEngine, hamilton: Path
) -> None:
    bus = bus_settings(redis_url, heartbeat_s=0.5, lease_s=10.0)
    settings, store, dep_id = stored_deployment(tmp_path, bus, engine)
    with central_thread(store, settings) as central:
        proc = _worker(settings, dep_id, hamilton)  # paced: the clip alone would take 9 s
        end = time.monotonic() + 60
        while not any(w.state == "scanning" and w.frames_processed > 0 for w in central.workers()):
            assert proc.poll() is None and time.monotonic() < end, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.1)
        close_deployment(store, "supervisor", dep_id, reason="test")  # type: ignore[arg-type]
        t0 = time.monotonic()
        out, _ = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - t0
    assert proc.returncode == EXIT_NO_LEASE, out[-2000:]
    assert "no lease" in out or "lease" in out
    # Well before the lease (10 s) or the clip (9 s) would have ended: the withdrawn lease stopped it.
    assert stopped_after < 5, stopped_after
