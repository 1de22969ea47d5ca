"""``openlfr worker``: a camera worker on the stream bus; ``openlfr central``: the central side alone."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from openlfr.cli.app import app, clean_errors, console, err_console, fail, settings
from openlfr.governance.errors import GovernanceError
from openlfr.store import StoreError, open_store
from openlfr.vision import ModelPackError

# The bus (redis) and the live pipeline (PyAV, scipy) are imported inside the commands that use them: every
# other command runs in a process of its own and would pay their import time at start-up for nothing.
if TYPE_CHECKING:
    from openlfr.live.pipeline import RaisedAlert

EXIT_NO_LEASE = 3
"""Exit status of a worker that stopped (or never started) because it held no lease."""


@app.command("worker")
def worker(
    deployment: str = typer.Option(..., "--deployment", "-d", help="The open deployment to work for."),
    source: list[str] = typer.Option(..., "--source", "-s", help="CAMERA=SOURCE (file, folder, rtsp://, 0)."),
    name: str | None = typer.Option(
        None, "--name", help="Worker name on the bus (default: the credential's, else random)."
    ),
    fast: bool = typer.Option(False, "--fast", help="Files as fast as possible (no pacing)."),
    credential: Path | None = typer.Option(
        None,
        "--credential",
        "-c",
        help="This worker's credential file (from `openlfr enrol-worker`; default bus.credential_file): the kit "
        "comes from the central service over the bus. Without one the kit is read from the store.",
    ),
    lease_wait: float = typer.Option(30.0, "--lease-wait", help="Seconds to wait for a first lease."),
    max_seconds: float | None = typer.Option(None, "--max-seconds", help="Stop after this long."),
) -> None:
    """Run a deployment's cameras and publish alerts, counts and heartbeats on the bus (``bus.url``).

    With a credential the worker needs only the bus: it asks the central service for the deployment's kit
    (watchlist, alerts key), which comes encrypted for this worker alone, and holds it in memory. Without
    one it reads the kit from the central store (on the central service's own machine). It scans only under
    the lease the central service renews, and stops (exit status 3) when the lease ends.
    """
    from openlfr.governance.bus import fetch_worker_kit
    from openlfr.governance.bus_kit import WorkerCredential, request_worker_kit
    from openlfr.live.bus_gateway import BusGateway
    from openlfr.live.pipeline import LivePipeline
    from openlfr.live.sources import SourceError, parse_source

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    s = settings()
    if not s.bus.url:
        fail("no bus configured: set bus.url (OPENLFR_BUS__URL), e.g. redis://127.0.0.1:6379/0")
    cred_path = credential or s.bus.credential_file
    if cred_path is not None:
        with clean_errors(GovernanceError):
            cred = WorkerCredential.load(cred_path)
            if name is not None and name != cred.worker:
                fail(f"--name {name} does not match the credential's worker {cred.worker}")
            wid = cred.worker
            console.print(f"worker {wid}: asking the central service for deployment {deployment}'s kit")
            kit = request_worker_kit(s.bus, cred, deployment)
    else:
        wid = name or f"worker-{uuid.uuid4().hex[:8]}"
        with clean_errors(StoreError, GovernanceError):
            store = open_store(s)
            kit = fetch_worker_kit(store, deployment, wid)
            store.close()  # the worker needs nothing more of the store
    specs = []
    with clean_errors(SourceError):
        for text in source:
            spec = parse_source(text)
            if spec.camera_id not in kit.deployment.cameras:
                fail(
                    f"camera {spec.camera_id!r} is not one of deployment {deployment}'s cameras: "
                    f"{', '.join(kit.deployment.cameras)} (give CAMERA=SOURCE)"
                )
            specs.append(spec)
    gateway = BusGateway(kit, s.bus, worker=wid)
    gateway.start()
    if not gateway.wait_for_lease(lease_wait):
        gateway.close(flush_timeout_s=0)
        err_console.print(f"[bold red]no lease[/] for deployment {deployment} within {lease_wait:.0f} s")
        raise typer.Exit(EXIT_NO_LEASE)
    # Rule 1 within one heartbeat: the pipeline re-checks the lease (in memory) four times a beat.
    live = s.live.model_copy(
        update={"scan_check_interval_s": min(s.live.scan_check_interval_s, s.bus.heartbeat_s / 4)}
    )
    run_settings = s.model_copy(update={"live": live})
    alerts: list[RaisedAlert] = []

    def on_alert(a: RaisedAlert) -> None:
        alerts.append(a)
        console.print(f"alert {a.alert_id} camera {a.camera_id} score {a.score:.3f}", highlight=False)

    with clean_errors(SourceError, GovernanceError, ValueError, ModelPackError):
        pipeline = LivePipeline(specs, gateway, run_settings, paced=not fast, on_alert=on_alert)

    def status() -> dict[str, Any]:
        snaps = [m.snapshot() for m in pipeline.metrics]
        return {
            "frames_processed": sum(int(x["frames_processed"]) for x in snaps),
            "frames_dropped": sum(int(x["frames_dropped"]) for x in snaps),
        }

    gateway.status = status
    gateway.state = "scanning"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pipeline.start()
    console.print(f"worker {wid}: deployment {deployment}, cameras {', '.join(sp.camera_id for sp in specs)}")
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        while pipeline.running() and not stop.is_set():
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.1)
    except KeyboardInterrupt:
        err_console.print("stopping...")
    finally:
        pipeline.stop()
        result = pipeline.join(timeout=30)
        gateway.state = "stopped"
        left = gateway.close()
    refused = [m for m in result.metrics if m["state"] == "refused"]
    console.print(
        f"worker {wid}: {len(result.alerts)} alerts raised, {gateway.alerts_sent} sent"
        + (f", {left} messages not delivered" if left else ""),
        highlight=False,
    )
    for m in refused:
        err_console.print(f"[bold red]{m['camera_id']}:[/] {m['message']}", highlight=False)
    if refused:
        raise typer.Exit(EXIT_NO_LEASE)


@app.command("central")
def central(
    name: str | None = typer.Option(None, "--name", help="Consumer name in the group (default: random)."),
) -> None:
    """Run the central side of the bus alone: leases, alert storage, counters (``serve`` runs it too)."""
    from openlfr.governance.bus import BUS_DOWN, BusError
    from openlfr.governance.bus_consumer import CentralConsumer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    s = settings()
    if not s.bus.url:
        fail("no bus configured: set bus.url (OPENLFR_BUS__URL), e.g. redis://127.0.0.1:6379/0")
    with clean_errors(StoreError, BusError):
        store = open_store(s)
        consumer = CentralConsumer(store, s, name=name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"central consumer {consumer.name} on {s.bus.url}")
    try:
        consumer.run(stop)
    except KeyboardInterrupt:
        pass
    except BUS_DOWN as exc:  # pragma: no cover - run() backs off itself
        fail(f"bus unreachable: {exc}")


@app.command("enrol-worker")
def enrol_worker_cmd(
    worker_name: str = typer.Argument(..., help="The worker's name on the bus, e.g. van-7."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Credential file to write (0600) for the worker's machine."
    ),
) -> None:
    """Enrol a camera worker: keep its public key centrally, write its credential file (supervisors)."""
    from openlfr.api import roles
    from openlfr.cli.identity import acting
    from openlfr.governance.bus_kit import enrol_worker

    s = settings()
    with clean_errors(StoreError, GovernanceError):
        store = open_store(s)
        actor = acting(store, roles.SUPERVISE)
        if out.exists():
            fail(f"{out} exists: choose another file, or remove it first")
        cred = enrol_worker(store, s, actor, worker_name)
        cred.save(out)
        store.close()
    console.print(
        f"worker {cred.worker} enrolled; credential written to {out} (keep it like a password: copy it to "
        f"the worker's machine, then run `openlfr worker -c {out.name} -d DEPLOYMENT -s CAM=SOURCE`)",
        highlight=False,
    )


@app.command("revoke-worker")
def revoke_worker_cmd(
    worker_name: str = typer.Argument(..., help="The enrolled worker to refuse from now on."),
) -> None:
    """Revoke a camera worker's credential: the central service refuses it every kit (supervisors)."""
    from openlfr.api import roles
    from openlfr.cli.identity import acting
    from openlfr.governance.bus_kit import revoke_worker

    s = settings()
    with clean_errors(StoreError, GovernanceError):
        store = open_store(s)
        revoke_worker(store, acting(store, roles.SUPERVISE), worker_name)
        store.close()
    console.print(
        f"worker {worker_name} revoked: it gets no kit from now on (one it holds ends with its lease)"
    )
