"""``openlfr demo``: the main job end to end on the embedded default (SQLite, default pack).

It plans a deployment, enrols a small watchlist from the sample photos, opens the deployment, runs the
live pipeline over the sample clip, and prints what officers would see, the published record and the audit
check. It decides nothing: the alert is left for a human to adjudicate (rule 7). The sample comes from the
shared data when present, else it is generated from public-domain images (``demo_sample``); either way
every entry is a neutral, marked demonstration entry, and the demo says it shows the workflow, not accuracy.

It runs at the validated minimum that applies to its watchlist, with no override (rule 2). The pack's
calibration validates a lower minimum for watchlists whose templates passed the enrolment attraction check
(``Calibration.minimum_for``), and the check needs a reference crowd of strangers. When the shared data
holds UTKFace, the demo builds a bounded reference crowd from it (embedded once, with a progress bar, and
kept in its data folder across reruns) with the calibration's own attraction rule and offset rule, so its
watchlist is checked; without it, the demo runs at the stricter minimum validated without the check, and says so.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openlfr.cli.app import app, clean_errors, console, err_console, fail, settings
from openlfr.cli.demo_sample import DEMONSTRATION_NOTE, DemoSample, generated_sample, shared_sample
from openlfr.cli.demo_users import approve_pending, provision
from openlfr.config import Settings
from openlfr.evaluation.datasets import DatasetError
from openlfr.evaluation.reference_crowd import build_reference_crowd, crowd_records, matches_calibration
from openlfr.governance.audit import verify
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_opening import open_deployment, record_signage
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.errors import GovernanceError
from openlfr.governance.live_gateway import DeploymentGateway
from openlfr.governance.report import deployment_record, write_record
from openlfr.governance.watchlists import SubjectEntry, enrol_subject
from openlfr.live.pipeline import LivePipeline, RaisedAlert
from openlfr.live.sources import parse_source
from openlfr.matching.calibration import Calibration, CalibrationError, load_calibration
from openlfr.matching.reference_crowd import (
    ReferenceCrowd,
    load_reference_crowd,
    reference_crowd_path,
    save_reference_crowd,
)
from openlfr.store import open_store, utcnow
from openlfr.vision import load_engine

_MARKER = ".openlfr-demo"


@app.command()
def demo(
    threshold: float | None = typer.Option(
        None,
        help="Face-match threshold of the demo deployment. Default: the pack's validated minimum for the "
        "demo's watchlist; below it the deployment is refused (the demo never overrides).",
    ),
    reference_crowd: int = typer.Option(
        # 3,200: with the calibration's share of 0.1 %, a template's own threshold then rests on 3 crowd faces,
        # enough for the normalised rule to ease as well as raise (AttractionPolicy.min_ease_hits).
        3200,
        min=0,
        help="Strangers (UTKFace faces of the shared data) in the demo's reference crowd for the enrolment "
        "attraction check; 0 enrols without the check (then the stricter minimum applies).",
    ),
    keep: bool = typer.Option(False, "--keep", help="Keep the data of earlier demo runs."),
    out: Path = typer.Option(Path("var/demo-record"), help="Where the published record is written."),
) -> None:
    """Run the main job once on sample data: deployment, watchlist, live pipeline, alert, record, audit."""
    s = settings()
    if s.data_dir.exists() and not keep:
        if any(s.data_dir.iterdir()) and not (s.data_dir / _MARKER).exists():
            fail(
                f"{s.data_dir} holds data that the demo did not create; set OPENLFR_DATA_DIR to an empty folder"
            )
        # The reference crowd (templates of research photographs, no watchlist data) is kept: it is slow to
        # build and the same on every run.
        for child in s.data_dir.iterdir():
            if child.name == "calibration":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    s.data_dir.mkdir(parents=True, exist_ok=True)
    (s.data_dir / _MARKER).write_text("created by `openlfr demo`; safe to delete\n")
    sample = _sample(s.dataset_dir.resolve(), s.data_dir / "sample")

    console.print(
        Panel.fit(
            f"[bold yellow]{DEMONSTRATION_NOTE}[/]\nSample: {sample.description}",
            title="openlfr demo",
            border_style="yellow",
        )
    )
    with clean_errors(GovernanceError):
        store = open_store(s)
        users = provision(store)
        planner = users.planner
        pack = s.vision.pack
        with clean_errors(CalibrationError):
            cal = load_calibration(pack, s.data_dir)
        if cal is None:
            fail(
                f"no calibration for pack {pack}: the demo runs only at a validated minimum (`openlfr evaluate`)"
            )
        crowd = _reference_crowd(s, pack, cal, reference_crowd)
        minimum = cal.minimum_for({crowd.rule if crowd is not None else None})
        why = (
            f"the validated minimum of pack {pack} for a watchlist whose templates passed the enrolment "
            f"attraction check with {crowd.rule} offsets (reference crowd of {crowd.size} strangers: "
            f"{crowd.source})"
            if crowd is not None
            else f"the validated minimum of pack {pack} for a watchlist enrolled WITHOUT the attraction check "
            f"(no reference crowd: no UTKFace in {s.dataset_dir}); {cal.minimum_for({cal.offset_rule}):.3f} holds with it"
        )
        if threshold is None:
            threshold = minimum
        elif threshold < minimum:
            fail(f"--threshold {threshold:.3f} is below {why} ({minimum:.3f}); the demo does not override it")
        else:
            why = f"given with --threshold (at or above {why}, {minimum:.3f})"
        now = utcnow()
        dep = create_deployment(
            store,
            planner,
            purpose="Demonstration of openlfr on public sample footage",
            purpose_category="public_event_safety",
            legal_basis="Demonstration only: no operational legal basis (public sample footage, no members of the public)",
            location="Demo stage (sample video)",
            starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(hours=1),
            authorising_officer="Demo Superintendent",
            authorising_role="Superintendent",
            cameras=["stage"],
            pack=pack,
            threshold=threshold,
            threshold_override_reason=None,
            phase="trial",
            dpia_ref="none: demonstration on public sample footage (no members of the public)",
            eia_ref="none: demonstration on public sample footage",
            policy_ref="none: demonstration only",
            intelligence_case="none: demonstration on public sample footage",
            data_controller=s.server.data_controller or "whoever runs this demonstration",
            public_contact=s.server.contact or "see the openlfr README",
            # Honest about the demo: it is announced and opened at once, so it is published as short notice.
            short_notice_reason="demonstration: planned and opened at once on sample footage",
        )
        console.print(
            Panel.fit(
                f"Deployment [bold]{dep.id}[/] planned: camera 'stage', pack {dep.pack}, threshold {dep.threshold:.3f}"
                f"\nthreshold: {why}; no override",
                title="1. Plan",
                border_style="cyan",
            )
        )

        engine = load_engine(pack, s)
        table = Table("subject", "reference photo", "in the clip", "result")
        for subject in sample.subjects:
            entry = SubjectEntry(
                subject_id=subject.subject_id,
                category=subject.category,
                reason=subject.reason,
                image_source="sample_image",  # closed list; the sample says where it came from
                offence_seriousness="summary",
                legal_basis="demonstration only",
                approved_by="Demo Inspector",
                expires_at=now + timedelta(hours=2),
                needs_approval=True,
            )
            report = enrol_subject(
                store, planner, dep.id, entry, [subject.image], engine=engine, allow_partial=True
            )
            outcome = "enrolled" if report.subjects_enrolled else "; ".join(r.reason for r in report.refused)
            table.add_row(subject.subject_id, subject.image.name, "yes" if subject.in_clip else "no", outcome)
        console.print(
            Panel.fit(
                table,
                title="2. Watchlist of demonstration entries (destroyed at close)",
                border_style="cyan",
            )
        )

        record_signage(store, planner, dep.id)  # the demo's "signs": its own console and public page
        approve_pending(store, users, dep.id)
        dep = open_deployment(store, users.superintendent, dep.id)
        gateway = DeploymentGateway(store, dep.id, s)

    console.print(
        Panel.fit(
            f"Running the live pipeline over {sample.clip.name} (played at its own frame rate)...",
            title="3. Live",
            border_style="cyan",
        )
    )
    alerts: list[RaisedAlert] = []

    def on_alert(a: RaisedAlert) -> None:
        alerts.append(a)
        console.print(
            f"[bold red]ALERT[/] camera {a.camera_id}: watchlist subject {a.subject_id}, score "
            f"{a.score:.3f} (threshold {dep.threshold:.3f}), {a.latency_s * 1000:.0f} ms after the frame "
            f"- alert {a.alert_id}",
            highlight=False,
        )

    pipeline = LivePipeline([parse_source(f"stage={sample.clip}")], gateway, s, on_alert=on_alert)
    pipeline.start()
    result = pipeline.join(timeout=300)
    for m in result.metrics:
        console.print(
            f"camera {m['camera_id']}: {m['frames_processed']} frames processed, "
            f"{m['frames_dropped']} dropped, {m['faces_seen']} face detections in {m['tracks']} tracks, "
            f"{m['alerts']} alert(s)",
            highlight=False,
        )
    console.print("Faces that matched nobody left only these counts behind (rule 3).")

    with clean_errors(GovernanceError):
        console.print(
            Panel.fit(
                "\n".join(
                    f"OPENLFR_DATA_DIR={s.data_dir} openlfr alert review {a.alert_id} engage\n"
                    "  (the operator passes it to engagement, or records 'false_alert')"
                    for a in alerts
                )
                or "no alert was raised",
                title="4. A human decides (nothing is adjudicated automatically)",
                border_style="cyan",
            )
        )
        closed = close_deployment(store, planner, dep.id)
        rec = deployment_record(store, dep.id, actor=planner)
        rec["demonstration"] = DEMONSTRATION_NOTE
        paths = write_record(rec, out)
        precision = rec["alert_precision"]
        console.print(
            Panel.fit(
                f"deployment closed: watchlist destroyed ({closed.subjects_destroyed} subjects, "
                f"{closed.templates_destroyed} templates, {closed.blobs_deleted} encrypted images, and its key)\n"
                f"faces seen {rec['faces_seen']}, alerts {rec['alerts']} ({rec['unadjudicated_alerts']} awaiting a "
                f"human decision), threshold {rec['threshold']:.3f}\n"
                f"alert precision: {'not yet known' if precision is None else f'{precision:.0%}'} "
                f"(of {rec['alert_precision_adjudicated']} adjudicated); false alerts per 1,000 faces seen: "
                f"{rec['false_alerts_per_1000_faces']}\n"
                f"published record: {', '.join(str(p) for p in paths)}",
                title="5. Published record (both measures)",
                border_style="cyan",
            )
        )
        console.print(Panel.fit(str(verify(store, users.auditor)), title="6. Audit log", border_style="cyan"))
    console.print(f"[yellow]{DEMONSTRATION_NOTE}[/]")


def _reference_crowd(s: Settings, pack: str, cal: Calibration, size: int) -> ReferenceCrowd | None:
    """The demo's reference crowd for the attraction check: the one in its data folder, else built from up
    to ``size`` UTKFace faces of the shared data (as ``openlfr calibration crowd --from`` does), with the
    reference threshold and share of the pack's calibration. ``None`` when there is no crowd."""
    policy = (cal.extra.get("power") or {}).get("attraction_policy")
    if size <= 0 or not s.governance.attraction_check or not policy:
        # Enrolment applies whatever crowd is in the data folder: none must be there when the demo says so.
        reference_crowd_path(pack, s.data_dir).unlink(missing_ok=True)
        return None
    with clean_errors(CalibrationError):
        kept = load_reference_crowd(pack, s.data_dir)
        if kept is not None and matches_calibration(kept, cal):
            return kept
    try:
        records, what = crowd_records(s.dataset_dir / "utkface")
    except (DatasetError, OSError):
        return None
    engine = load_engine(pack, s)
    with Progress(
        TextColumn("reference crowd for the attraction check"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("crowd", total=min(size, len(records)))
        try:
            crowd = build_reference_crowd(
                engine,
                cal,
                records,
                s,
                size=size,
                what=f"{what} of the shared data",
                progress=lambda done, total: bar.update(task, completed=done),
            )
        except DatasetError:
            return None
    save_reference_crowd(crowd, s.data_dir)
    console.print(f"reference crowd written to {reference_crowd_path(pack, s.data_dir)}", highlight=False)
    return crowd


def _sample(data: Path, folder: Path) -> DemoSample:
    """The shared sample when ``OPENLFR_DATA`` holds it, else one generated from public-domain images."""
    shared = shared_sample(data)
    if shared is not None:
        return shared
    with console.status(f"No shared sample data in {data}: building one from public-domain images..."):
        return generated_sample(folder)
