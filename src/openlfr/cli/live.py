"""``openlfr run``: watch sources for an open deployment and raise alerts against its watchlist."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import stat
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.live import Live
from rich.table import Table

from openlfr.cli.app import app, choose_pack, clean_errors, console, err_console, fail, settings
from openlfr.config import Settings
from openlfr.governance.audit import Actor
from openlfr.governance.errors import GovernanceError
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.live.gateway import LiveGateway
from openlfr.live.memory_gateway import CrowdCheck, InMemoryGateway, WatchlistFolderError
from openlfr.live.metrics import SourceMetrics
from openlfr.live.pipeline import LivePipeline, RaisedAlert
from openlfr.live.sources import SourceError, SourceSpec, parse_source
from openlfr.live.status_server import serve_metrics
from openlfr.matching.calibration import CalibrationError, load_calibration
from openlfr.matching.reference_crowd import attraction_policy, load_reference_crowd
from openlfr.store import StoreError, open_store
from openlfr.vision import ModelPackError, load_engine


def _status_table(metrics: list[SourceMetrics], alerts: int) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for col in (
        "camera",
        "state",
        "fps in",
        "fps done",
        "dropped",
        "faces/s",
        "tracks",
        "alerts",
        "latency p50/p95 ms",
    ):
        table.add_column(col, justify="right" if col not in ("camera", "state") else "left")
    for m in metrics:
        s = m.snapshot()
        lat = (
            "-"
            if s["alert_latency_ms_p50"] is None
            else f"{s['alert_latency_ms_p50']:.0f}/{s['alert_latency_ms_p95']:.0f}"
        )
        state = s["state"] + (f" ({s['reconnects']} reconnects)" if s["reconnects"] else "")
        table.add_row(
            s["camera_id"],
            state,
            f"{s['fps_in']:.1f}",
            f"{s['fps_processed']:.1f}",
            str(s["frames_dropped"]),
            f"{s['faces_per_s']:.1f}",
            str(s["tracks"]),
            str(s["alerts"]),
            lat,
        )
    table.caption = f"{alerts} alert(s) raised - Ctrl-C stops"
    return table


def dry_run_crowd_check(settings_: Settings, pack: str) -> CrowdCheck | None:
    """The enrolment attraction check a dry run applies: the pack's reference crowd in the data folder
    (written by ``openlfr evaluate``), or ``None`` when the check is off or there is no crowd."""
    if not settings_.governance.attraction_check:
        return None
    with clean_errors(CalibrationError):
        crowd = load_reference_crowd(pack, settings_.data_dir)
    if crowd is None or crowd.size == 0:
        return None
    return CrowdCheck(crowd, attraction_policy(crowd, settings_.governance))


# "pipe:", "rtsp:", "concat:", "file:", ...: anything FFmpeg would read as a protocol rather than a path.
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_CAMERA_NAME = re.compile(r"^([A-Za-z0-9_.\-]+)=(.+)$")


def _not_recorded_media(location: str) -> str | None:
    """Why ``location`` is not a regular file or folder (a dry run reads nothing else), or None."""
    if location in ("-", "") or location.isdigit():
        return "standard input or a webcam number"
    if _URL_SCHEME.match(location):
        return "a URL or protocol the decoder would open (write a file as ./NAME if its name has a colon)"
    if location.startswith("/dev/"):
        return "a device"
    try:
        mode = os.stat(Path(location).expanduser()).st_mode
    except OSError as exc:
        return f"not a file or folder that can be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kinds = ((stat.S_ISFIFO, "a fifo"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"))
    return next((what for test, what in kinds if test(mode)), "a device or special file")


def _check_dry_run(
    settings_: Settings,
    sources: list[str],
    pack: str | None,
    threshold: float | None,
    override_reason: str | None,
) -> tuple[str, float, float | None]:
    """A dry run is for recorded media: regular files and folders only, never a live source (no ``pipe:``,
    ``-``, device, fifo, socket or URL: issue 25); at or above the pack's validated minimum threshold unless a
    reason is given. The minimum is the one validated for the offset rule of the pack's reference crowd in the
    data folder, else the stricter one validated without the check (``Calibration.minimum_for``). Returns
    (pack, threshold, validated minimum)."""
    for text in sources:
        named = _CAMERA_NAME.match(text.strip())
        location = named.group(2) if named and not any(c in named.group(1) for c in ":/") else text.strip()
        why = _not_recorded_media(location)
        if why is not None:
            fail(
                f"--dry-run reads regular files and folders only; {text!r} is {why}, which could be a live "
                "source. A live source is scanned only for an open deployment: --deployment ID"
            )
    chosen = choose_pack(pack)
    with clean_errors(CalibrationError):
        cal = load_calibration(chosen.name, settings_.data_dir)
    check = dry_run_crowd_check(settings_, chosen.name)
    checked = check is not None
    minimum = cal.minimum_for({check.policy.rule if check else None}) if cal is not None else None
    if threshold is None:
        if minimum is None:
            fail(f"no calibration for pack {chosen.name}: give --threshold and --override-reason")
        threshold = minimum
    if not math.isfinite(threshold) or not -1.0 <= threshold <= 1.0:
        fail(f"--threshold {threshold} is not a similarity between -1 and 1")
    if (minimum is None or threshold < minimum) and not (override_reason or "").strip():
        unchecked = (
            "" if checked else " for a watchlist enrolled without the attraction check (no reference crowd)"
        )
        below = (
            "no validated minimum" if minimum is None else f"the validated minimum{unchecked} {minimum:.3f}"
        )
        fail(
            f"threshold {threshold:.3f} is below {below} for pack {chosen.name}: give --override-reason "
            "(it goes to the audit log)"
        )
    return chosen.name, threshold, minimum


def _dry_run_login(settings_: Settings) -> Actor:
    """A dry run searches faces like any scan: it needs a logged-in user whose role may run the cameras
    (issue 25), and is audited under them; nobody is named from ``$USER``."""
    from openlfr.api import roles
    from openlfr.cli.identity import acting

    with clean_errors(StoreError):
        store = open_store(settings_)
    try:
        return acting(store, roles.RUN_LIVE)
    finally:
        store.close()


def _audit_dry_run(settings_: Settings, who: Actor, details: dict[str, Any]) -> None:
    """Record the dry run, as the logged-in user."""
    from openlfr.governance.audit import record

    with clean_errors(StoreError):
        store = open_store(settings_)
    try:
        with store.session() as s:
            record(s, who, "live.dry_run", details=details)
    finally:
        store.close()


def _dry_run_gateway(
    settings_: Settings, watchlist: Path, pack: str | None, threshold: float | None
) -> InMemoryGateway:
    chosen = choose_pack(pack)
    check = dry_run_crowd_check(settings_, chosen.name)
    if threshold is None:
        with clean_errors(CalibrationError):
            cal = load_calibration(chosen.name, settings_.data_dir)
        if cal is None:
            fail(f"no calibration for pack {chosen.name}: give --threshold")
        threshold = cal.minimum_for({check.policy.rule if check else None})
    engine = load_engine(chosen.name, settings_)
    with clean_errors(WatchlistFolderError):
        gateway = InMemoryGateway.from_folder(watchlist, engine, threshold=threshold, check=check)
    for subject_id, evidence in gateway.attractors:
        err_console.print(f"[yellow]attraction check:[/] {subject_id} {evidence.describe()}", highlight=False)
    return gateway


def _deployment_gateway(settings_: Settings, deployment_id: str) -> DeploymentGateway:
    """The governance layer's gateway onto a stored deployment (fails clearly for an unknown id), acting as
    the logged-in user: every row of the run names them (rule 8)."""
    from openlfr.api import roles
    from openlfr.cli.identity import acting

    with clean_errors(StoreError, GovernanceError):
        store = open_store(settings_)
        # The logged-in user, checked against the same role table as the API.
        who = acting(store, roles.RUN_LIVE)
        return DeploymentGateway(store, deployment_id, settings_, actor=who)


def _camera_specs(sources: list[str], gateway: LiveGateway, dry_run: bool) -> list[SourceSpec]:
    cameras = list(gateway.deployment.cameras)
    specs = []
    with clean_errors(SourceError):
        for text in sources:
            spec = parse_source(text)
            named = "=" in text.split("://", 1)[0]
            if not named and not dry_run:
                if len(cameras) == 1 and len(sources) == 1:
                    spec = SourceSpec(cameras[0], spec.location, spec.kind)
                else:
                    fail(f"name the camera of source {text!r}: CAMERA=SOURCE (cameras: {', '.join(cameras)})")
            specs.append(spec)
    return specs


_stop_signalled = threading.Event()
"""Set when SIGTERM reached `openlfr run` (cleared when a run installs its handler)."""


def _interrupt(_signum: int, _frame: object) -> None:
    _stop_signalled.set()
    raise KeyboardInterrupt


def _interrupted(exc: BaseException) -> bool:
    """Whether a run that failed to start was stopped (Ctrl-C or SIGTERM) rather than broken.

    The interruption can land inside a C extension being imported as the pipeline starts (OpenCV's, for
    one), which then reports its own ImportError instead of the KeyboardInterrupt: so the signal is
    remembered by the handler, and the exception's context is searched too."""
    if _stop_signalled.is_set():
        return True
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    return any(isinstance(e, KeyboardInterrupt) for e in chain)


@app.command("run")
def run(
    source: list[str] = typer.Option(
        ..., "--source", "-s", help="[CAMERA=]file, folder, rtsp://..., or webcam 0."
    ),
    deployment: str | None = typer.Option(None, "--deployment", "-d", help="The open deployment to run."),
    dry_run: bool = typer.Option(False, "--dry-run", help="No database: a watchlist folder held in memory."),
    watchlist: Path | None = typer.Option(None, "--watchlist", help="Dry run: folder of reference photos."),
    threshold: float | None = typer.Option(None, "--threshold", help="Dry run: face-match threshold."),
    override_reason: str | None = typer.Option(
        None, "--override-reason", help="Dry run: why the threshold is below the validated minimum (audited)."
    ),
    pack: str | None = typer.Option(None, "--pack", "-p", help="Dry run: model pack."),
    fast: bool = typer.Option(
        False, "--fast", help="Process files as fast as possible (no pacing, no drops)."
    ),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Stop after this long."),
    metrics_port: int | None = typer.Option(None, "--metrics-port", help="Serve /metrics and /metrics.json."),
    as_json: bool = typer.Option(False, "--json", help="Print the final metrics and alerts as JSON."),
) -> None:
    """Watch sources for a deployment and raise alerts against its watchlist."""
    s = settings()
    alerts: list[RaisedAlert] = []
    lock = threading.Lock()

    def on_alert(a: RaisedAlert) -> None:
        with lock:
            alerts.append(a)
        if not as_json:
            console.print(
                f"[bold red]ALERT[/] camera {a.camera_id}: watchlist subject {a.subject_id} "
                f"(score {a.score:.3f}) at {a.observed_at:%H:%M:%S} - alert {a.alert_id}",
                highlight=False,
            )

    if dry_run:
        if watchlist is None:
            fail("--dry-run needs --watchlist DIR (a folder of reference photos)")
        who = _dry_run_login(s)  # like every other command: nothing happens before a login
        pack, threshold, minimum = _check_dry_run(s, source, pack, threshold, override_reason)
        dry = _dry_run_gateway(s, watchlist, pack, threshold)
        gateway: LiveGateway = dry
        _audit_dry_run(
            s,
            who,
            {
                "sources": source,
                "watchlist": str(watchlist),
                "pack": pack,
                "threshold": threshold,
                "validated_min_threshold": minimum,
                "override_reason": (override_reason or "").strip() or None,
                "attraction_checked": dry.attraction_checked,
                "offset_rule": dry.offset_rule,
                "attractors": [{"subject_id": sid, **ev.as_dict()} for sid, ev in dry.attractors],
            },
        )
    else:
        if deployment is None:
            fail("give --deployment ID (or --dry-run --watchlist DIR)")
        gateway = _deployment_gateway(s, deployment)
    specs = _camera_specs(source, gateway, dry_run)
    if isinstance(gateway, InMemoryGateway):
        for spec in specs:
            gateway.allow_camera(spec.camera_id)
    scan = gateway if isinstance(gateway, DeploymentGateway) else None
    previous_term = None
    if scan is not None and threading.current_thread() is threading.main_thread():
        # SIGTERM (a service manager stopping the run) stops it like Ctrl-C, so scan_stop is written;
        # only SIGKILL leaves a scan_start without its scan_stop.
        _stop_signalled.clear()
        previous_term = signal.signal(signal.SIGTERM, _interrupt)
    if scan is not None:
        with clean_errors(StoreError, GovernanceError):
            scan.start_scan([f"{sp.camera_id}={sp.location}" for sp in specs])
    with clean_errors(SourceError, GovernanceError, ModelPackError):
        try:
            pipeline = LivePipeline(specs, gateway, s, paced=not fast, on_alert=on_alert)
            pipeline.start()
        except BaseException as exc:
            if previous_term is not None:
                signal.signal(signal.SIGTERM, previous_term)
            if scan is not None:
                why = (
                    "interrupted (Ctrl-C or SIGTERM) while starting"
                    if _interrupted(exc)
                    else f"failed to start: {type(exc).__name__}: {exc}"[:500]
                )
                scan.stop_scan({"alerts": 0, "stopped": why})
            raise
    server = serve_metrics(lambda: pipeline.metrics, metrics_port) if metrics_port else None
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    stopped = "sources ended"
    try:
        if as_json:
            while pipeline.running() and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.1)
        else:
            with Live(_status_table(pipeline.metrics, 0), console=console, refresh_per_second=4) as live:
                while pipeline.running() and (deadline is None or time.monotonic() < deadline):
                    time.sleep(0.25)
                    live.update(_status_table(pipeline.metrics, len(alerts)))
        if pipeline.running():
            stopped = "--max-seconds reached"
    except KeyboardInterrupt:
        stopped = "interrupted (Ctrl-C or SIGTERM)"
        err_console.print("stopping...")
    finally:
        pipeline.stop()
        result = pipeline.join(timeout=30)
        if server is not None:
            server.shutdown()
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        if scan is not None:
            with clean_errors(StoreError, GovernanceError):
                scan.stop_scan(
                    {
                        "alerts": len(result.alerts),
                        "stopped": stopped,
                        "cameras": {m["camera_id"]: m["state"] for m in result.metrics},
                    }
                )
    if as_json:
        out: dict[str, Any] = {
            "deployment": gateway.deployment.id,
            "sources": result.metrics,
            "alerts": [
                {
                    "alert_id": a.alert_id,
                    "camera_id": a.camera_id,
                    "subject_id": a.subject_id,
                    "score": round(a.score, 4),
                    "observed_at": a.observed_at.isoformat(),
                    "latency_ms": round(a.latency_s * 1000, 1),
                }
                for a in result.alerts
            ],
        }
        console.print_json(json.dumps(out))
    refused = [m for m in result.metrics if m["state"] in ("refused", "failed")]
    for m in refused:
        err_console.print(f"[bold red]{m['camera_id']}:[/] {m['state']}: {m['message']}", highlight=False)
    if refused and len(refused) == len(result.metrics):
        raise typer.Exit(2)
