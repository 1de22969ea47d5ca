"""A camera worker killed with SIGKILL keeps its counters: they are flushed every ``counters_interval_s``
and before each alert, so the published faces-seen figure (the false-alert rate's denominator) is not lost
while the alert is kept (issue 14), and the track that alerted is counted in it before its alert is stored
(issue 25)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import select

from openlfr.config import LiveSettings, Settings
from openlfr.live.gateway import Counts, NewAlert
from openlfr.live.memory_gateway import InMemoryGateway
from openlfr.live.pipeline import LivePipeline
from openlfr.live.sources import parse_source
from openlfr.store.auth_models import Role
from openlfr.vision import FaceEngine, load_image
from tests.cli_login import cli_log_in
from tests.conftest import require_data
from tests.live.conftest import ABSENT, MIRANDA, THRESHOLD, encode_clip, open_stored_deployment

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _metrics(port: int) -> dict[str, Any] | None:
    try:
        doc = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics.json", timeout=2).read())
    except OSError:
        return None
    return doc["sources"][0] if doc.get("sources") else None


def test_sigkill_of_run_keeps_the_faces_seen_counters_and_the_alert(
    hamilton: Path, settings: Settings, engine: FaceEngine
) -> None:
    store, dep_id = open_stored_deployment(
        settings, {"lin_manuel_miranda": MIRANDA, **ABSENT}, ["stage"], engine
    )
    store.engine.dispose()  # type: ignore[attr-defined]
    cli_log_in(settings, Role.OPERATOR)
    port = _free_port()
    env = {
        **os.environ,
        "OPENLFR_DATA_DIR": str(settings.data_dir),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.pop("OPENLFR_LIVE__COUNTERS_INTERVAL_S", None)  # the default interval is what is tested
    cmd = [
        sys.executable,
        "-c",
        "from openlfr.cli import app; app()",
        "run",
        "-d",
        dep_id,
        "-s",
        f"stage={hamilton}",
        "--json",
    ]
    cmd += ["--metrics-port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: dict[str, Any] | None = None
    try:
        # The clip is played at its own rate (11 s); kill it once it alerted and ran past one counters
        # interval, well before it ends (at the end the counters are flushed anyway).
        interval = Settings().live.counters_interval_s
        deadline = time.monotonic() + 120
        running_since: float | None = None
        while time.monotonic() < deadline and proc.poll() is None:
            m = _metrics(port)
            if m is not None and m["frames_processed"] > 0 and running_since is None:
                running_since = time.monotonic()
            if (
                m is not None
                and running_since is not None
                and m["alerts"] >= 1
                and time.monotonic() - running_since > interval + 1.0
            ):
                seen = m
                break
            time.sleep(0.2)
        assert proc.poll() is None, (
            f"run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
        )  # type: ignore[union-attr]
        assert seen is not None and seen["frames_processed"] < 250, "the clip played to (near) its end"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    from openlfr.store import open_store
    from openlfr.store.models import Alert, CameraCounter

    store = open_store(settings)
    with store.session() as s:
        alerts = list(s.scalars(select(Alert).where(Alert.deployment_id == dep_id)))
        counters = s.scalars(select(CameraCounter).where(CameraCounter.deployment_id == dep_id)).first()
    assert [a.subject_id for a in alerts] == ["lin_manuel_miranda"], "the alert was kept"
    assert counters is not None, "no counters reached the deployment before the kill"
    # At most one interval of faces is lost; at least what was counted before the alert is there.
    assert counters.faces_seen > 0 and counters.frames_processed > 0
    assert counters.frames_processed >= seen["frames_processed"] - 25 * (interval + 1)


class _KilledAtEachAlert(InMemoryGateway):
    """Notes, as each alert arrives, the counters the deployment already holds: what a worker killed with
    SIGKILL just after storing that alert would have left."""

    at_alert: list[dict[str, int]]

    def raise_alert(self, alert: NewAlert) -> str:
        self.at_alert.append(dict(self.counters.get(alert.camera_id, Counts().as_dict())))
        return super().raise_alert(alert)


def test_the_track_that_alerts_is_counted_in_faces_seen_before_its_alert_is_stored(
    tmp_path: Path, settings: Settings, engine: FaceEngine, watchlist_with_miranda: Path
) -> None:
    """One person in view (his own photo, two seconds of it): his track is the only one and is still in view
    when it alerts. The published faces seen (tracks) must already count it when the alert is stored, and
    count it once, not again when the track ends."""
    photo = load_image(require_data(*MIRANDA))
    clip = encode_clip([photo] * 50, tmp_path / "miranda.mp4", (704, 612))
    settings = settings.model_copy(update={"live": LiveSettings(cooldown_seconds=0.0, min_hits=2)})
    gateway = _KilledAtEachAlert.from_folder(watchlist_with_miranda, engine, threshold=THRESHOLD)
    assert isinstance(gateway, _KilledAtEachAlert)
    gateway.at_alert = []
    spec = parse_source(f"cam={clip}")
    gateway.allow_camera(spec.camera_id)
    result = LivePipeline([spec], gateway, settings, paced=False, engine_factory=lambda: engine).run()
    (m,) = result.metrics
    assert [a.subject_id for a in result.alerts] == ["lin_manuel_miranda"]
    assert m["tracks"] == 1 and m["frames_processed"] == 50
    (kept,) = gateway.at_alert
    assert kept["tracks"] == 1, f"a kill right after the alert leaves no face seen: {kept}"
    assert kept["faces_seen"] > 0 and kept["frames_processed"] > 0
    assert gateway.counters["cam"]["tracks"] == 1, "the alerting track was counted again when it ended"
