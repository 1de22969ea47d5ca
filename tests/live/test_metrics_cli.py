"""Metrics as JSON and Prometheus text (also over HTTP), and ``openlfr run`` end to end in a dry run."""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.live.metrics import SourceMetrics, metrics_json
from openlfr.live.status_server import serve_metrics
from openlfr.store.auth_models import Role
from tests.cli_login import cli_token
from tests.live.conftest import ABSENT, EXAMPLES, MIRANDA

PROM_LINE = re.compile(
    r'^(# TYPE [a-z_0-9]+ (counter|gauge)|[a-z_0-9]+\{camera="(?:[^"\\]|\\.)*"(?:,stage="[a-z]+")?\} -?[0-9.]+(e[-+]?\d+)?)$'
)


def test_metrics_json_and_prometheus_text_over_http() -> None:
    m = SourceMetrics('gate "A"', source="rtsp://cam")
    m.set_state("running")
    for _ in range(10):
        m.frame_in()
    for _ in range(8):
        m.frame_done(faces=3, latency_s=0.05)
    m.dropped(2)
    m.alert_raised(0.2)
    m.alert_raised(0.4)
    m.stage_time("detect", 0.25, 0.2)
    m.stage_time("detect", 0.25, 0.2)
    snap = m.snapshot()
    assert snap["stage_wall_s"] == {"detect": 0.5} and snap["stage_cpu_s"] == {"detect": 0.4}
    assert snap["frames_in"] == 10 and snap["frames_processed"] == 8 and snap["frames_dropped"] == 2
    assert snap["faces_seen"] == 24 and snap["alerts"] == 2
    assert snap["alert_latency_ms_p50"] == 300.0 and 380 <= snap["alert_latency_ms_p95"] <= 400
    server = serve_metrics(lambda: [m], port=0)
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        text = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        doc = json.loads(urllib.request.urlopen(f"{base}/metrics.json", timeout=5).read())
    finally:
        server.shutdown()
    assert (
        doc["sources"][0]["frames_dropped"] == 2
        and json.loads(metrics_json([m]))["sources"][0]["alerts"] == 2
    )
    lines = text.strip().splitlines()
    assert all(PROM_LINE.match(line) for line in lines), [x for x in lines if not PROM_LINE.match(x)]
    assert 'openlfr_live_frames_dropped_total{camera="gate \\"A\\""} 2' in lines
    assert 'openlfr_live_up{camera="gate \\"A\\""} 1' in lines
    assert 'openlfr_live_stage_seconds_total{camera="gate \\"A\\"",stage="detect"} 0.5' in lines


def test_cli_dry_run_on_a_folder_alerts_for_the_watchlisted_face(tmp_path: Path, data_dir: Path) -> None:
    watchlist = tmp_path / "watchlist"
    watchlist.mkdir()
    shutil.copy(data_dir.joinpath(*MIRANDA), watchlist / "lin_manuel_miranda.png")
    shutil.copy(data_dir.joinpath(*ABSENT["rose_leslie"]), watchlist / "rose_leslie.jpg")
    # A "camera" that is a folder of stills: another photo of Obama twice (same place: one track), then
    # Miranda's photo three times. With min_hits 2, Miranda's track alerts; Obama is not on the watchlist.
    frames = tmp_path / "frames"
    frames.mkdir()
    obama = data_dir.joinpath(*EXAMPLES, "obama-480p.jpg")
    miranda = data_dir.joinpath(*MIRANDA)
    for i, src in enumerate([obama, obama, miranda, miranda, miranda]):
        shutil.copy(src, frames / f"{i:02d}{src.suffix}")
    get_settings.cache_clear()  # the CLI reads the environment below
    try:
        result = CliRunner().invoke(
            app,
            [
                "run",
                "--dry-run",
                "--watchlist",
                str(watchlist),
                "--threshold",
                "0.4",
                "--override-reason",
                "test below the validated minimum",
                "--source",
                f"door={frames}",
                "--fast",
                "--json",
            ],
            env={
                "OPENLFR_DATA_DIR": str(tmp_path / "data"),
                "OPENLFR_LIVE__FOLDER_FPS": "4",
                # A dry run needs a login like every other command (issue 25).
                "OPENLFR_TOKEN": cli_token(Settings(data_dir=tmp_path / "data"), Role.OPERATOR),
            },
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    (source,) = out["sources"]
    assert source["camera_id"] == "door" and source["frames_processed"] == 5 and source["state"] == "ended"
    assert [a["subject_id"] for a in out["alerts"]] == ["lin_manuel_miranda"]


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OPENLFR_TOKEN", cli_token(Settings(data_dir=tmp_path / "data"), Role.OPERATOR))
    get_settings.cache_clear()
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "run",
            "--dry-run",
            "--watchlist",
            str(tmp_path / "nope"),
            "--threshold",
            "0.4",
            "--override-reason",
            "test",
            "--source",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 2 and "not a folder" in " ".join(r.output.split()) and "Traceback" not in r.output
    r = runner.invoke(
        app,
        [
            "run",
            "--source",
            str(tmp_path / "missing.mp4"),
            "--dry-run",
            "--watchlist",
            str(tmp_path),
            "--threshold",
            "0.4",
            "--override-reason",
            "test",
        ],
    )
    assert r.exit_code == 2 and "not a file or folder that can be read" in " ".join(r.output.split())
    r = runner.invoke(app, ["run", "--source", str(tmp_path)])
    assert r.exit_code == 2 and "--deployment" in r.output
    get_settings.cache_clear()
