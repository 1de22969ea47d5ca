"""``openlfr deployment|watchlist|alert|audit|report`` and ``openlfr purge``: the governance layer from a shell.

Every command acts as the user logged in with ``openlfr login`` and is checked against the role table in
:mod:`openlfr.api.roles`, as the API and the console are; what it changes or reads is audited under that
user and role.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import app, clean_errors, console, err_console, fail
from openlfr.cli.identity import DeclaredActorOption, acting
from openlfr.cli.store_access import ERRORS, store_session
from openlfr.governance import alerts as alert_svc
from openlfr.governance import audit as audit_svc
from openlfr.governance.audit import Actor
from openlfr.governance.deployments import (
    DeploymentInfo,
    close_deployment,
    create_deployment,
    get_deployment,
    list_deployments,
    open_deployment,
)
from openlfr.governance.report import deployment_record, write_record
from openlfr.governance.retention import purge as run_purge
from openlfr.governance.watchlist_approval import approve_entry, pending_entries, reject_entry
from openlfr.governance.watchlists import (
    ImportReport,
    SubjectEntry,
    enrol_subject,
    import_watchlist,
    list_subjects,
    parse_date,
    parse_time,
)
from openlfr.store import Store
from openlfr.store.auth_models import Role
from openlfr.store.models import DEPLOYMENT_PURPOSE_CATEGORIES, WATCHLIST_CATEGORIES

deployment_app = typer.Typer(help="Deployments: create, open, close, list, show.", no_args_is_help=True)
watchlist_app = typer.Typer(help="A deployment's watchlist: enrol, import, list.", no_args_is_help=True)
alert_app = typer.Typer(help="Alerts and their adjudication by people.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
report_app = typer.Typer(help="Published records.", no_args_is_help=True)
app.add_typer(deployment_app, name="deployment")
app.add_typer(watchlist_app, name="watchlist")
app.add_typer(alert_app, name="alert")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")

ActorOption = DeclaredActorOption
JsonOption = typer.Option(False, "--json", help="Machine-readable output.")
LookalikeOption = typer.Option(
    None,
    help="Enrol images that look like another subject anyway, stating why they are different people "
    "(audited). Without it they are refused as possible duplicates.",
)


def actor_of(store: Store, declared: str | None, allowed: tuple[Role, ...]) -> Actor:
    """The logged-in user, if their role is in ``allowed`` (``declared``: a refused ``--as``)."""
    return acting(store, allowed, declared)


def when(value: str, what: str) -> datetime:
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        fail(f"{what} {value!r} is not an ISO time (e.g. 2030-06-01T09:00Z)")
    if t.tzinfo is None:
        fail(f"{what} {value!r} needs a time zone, e.g. {value}Z or {value}+01:00")
    return t


def _fmt(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if t else "-"


def _show_deployment(d: DeploymentInfo) -> None:
    table = Table(show_header=False, title=f"Deployment {d.id}")
    for k, v in (
        ("status", d.status),
        ("purpose", d.purpose),
        ("purpose category", d.purpose_category_label or "-"),
        ("legal basis", d.legal_basis or "-"),
        ("location", d.location),
        ("window", f"{_fmt(d.starts_at)} to {_fmt(d.ends_at)}"),
        ("authorised by", f"{d.authorising_officer} ({d.authorising_role or 'authorising officer'})"),
        ("cameras", ", ".join(d.cameras)),
        ("pack", d.pack),
        ("threshold", f"{d.threshold:.3f}"),
        (
            "validated minimum",
            f"{d.validated_min_threshold:.3f}" if d.validated_min_threshold is not None else "-",
        ),
        ("override reason", d.threshold_override_reason or "-"),
        ("created", f"{_fmt(d.created_at)} by {d.created_by}"),
        ("opened", f"{_fmt(d.opened_at)} by {d.opened_by}" if d.opened_at else "-"),
        ("closed", f"{_fmt(d.closed_at)} by {d.closed_by}" if d.closed_at else "-"),
        ("trial or operational", d.phase_label),
        ("short notice", d.short_notice_reason or "no"),
        (
            "signage in place",
            f"{_fmt(d.signage_in_place_at)} by {d.signage_in_place_by}" if d.signage_in_place_at else "-",
        ),
        ("assessments", f"DPIA {d.dpia_ref or '-'}; EIA {d.eia_ref or '-'}; policy {d.policy_ref or '-'}"),
        ("data controller / contact", f"{d.data_controller or '-'} / {d.public_contact or '-'}"),
    ):
        table.add_row(k, v)
    console.print(table)


# --- deployment -----------------------------------------------------------------------------------------


@deployment_app.command("create")
def deployment_create(
    purpose: str = typer.Option(..., help="Why: the operational purpose."),
    purpose_category: str = typer.Option(
        ...,
        "--purpose-category",
        help="Published purpose category, by key or words: "
        + "; ".join(f"{k} ({v})" for k, v in DEPLOYMENT_PURPOSE_CATEGORIES.items())
        + ".",
    ),
    legal_basis: str = typer.Option(
        ..., "--legal-basis", help="Short summary of the legal basis (published)."
    ),
    location: str = typer.Option(..., help="Where."),
    start: str = typer.Option(..., help="Start, ISO time with zone (2030-06-01T09:00Z)."),
    end: str = typer.Option(..., help="End, ISO time with zone."),
    officer: str = typer.Option(
        ..., "--officer", help="The authorising officer's name (internal, never published)."
    ),
    officer_role: str = typer.Option(
        ...,
        "--officer-role",
        help="The authorising officer's rank or role as published, e.g. Superintendent.",
    ),
    camera: list[str] = typer.Option(..., "--camera", help="A camera id (repeat for several)."),
    pack: str | None = typer.Option(None, help="Model pack (default: the configured one)."),
    threshold: float | None = typer.Option(None, help="Alert threshold (default: the validated minimum)."),
    override_reason: str | None = typer.Option(
        None, help="Why the threshold is below the validated minimum."
    ),
    phase: str | None = typer.Option(None, help="trial or operational (required; published)."),
    dpia: str | None = typer.Option(None, "--dpia", help="DPIA identifier or link (required; published)."),
    eia: str | None = typer.Option(
        None, "--eia", help="Equality impact assessment identifier or link (required; published)."
    ),
    policy: str | None = typer.Option(
        None, "--policy", help="Policy document identifier or link (required; published)."
    ),
    intelligence_case: str | None = typer.Option(
        None, "--intelligence-case", help="Intelligence case for the place (required; never published)."
    ),
    data_controller: str | None = typer.Option(
        None, help="Data controller (default server.data_controller)."
    ),
    contact: str | None = typer.Option(None, help="Public contact (default server.contact)."),
    short_notice_reason: str | None = typer.Option(
        None, help="Why it starts within governance.notice_hours (audited; published as short notice)."
    ),
    as_: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Plan a deployment (nothing is scanned until it is opened)."""
    with store_session() as store, clean_errors(*ERRORS):
        d = create_deployment(
            store,
            actor_of(store, as_, roles.PLAN_DEPLOYMENT),
            purpose=purpose,
            purpose_category=purpose_category,
            legal_basis=legal_basis,
            location=location,
            starts_at=when(start, "--start"),
            ends_at=when(end, "--end"),
            authorising_officer=officer,
            authorising_role=officer_role,
            cameras=camera,
            pack=pack,
            threshold=threshold,
            threshold_override_reason=override_reason,
            phase=phase,
            dpia_ref=dpia,
            eia_ref=eia,
            policy_ref=policy,
            intelligence_case=intelligence_case,
            data_controller=data_controller,
            public_contact=contact,
            short_notice_reason=short_notice_reason,
        )
    if as_json:
        console.print_json(json.dumps(d.as_dict()))
    else:
        console.print(
            f"deployment [bold]{d.id}[/] planned: {d.location}, {_fmt(d.starts_at)} to {_fmt(d.ends_at)}"
        )


@deployment_app.command("open")
def deployment_open(
    deployment_id: str = typer.Argument(...),
    override_reason: str | None = typer.Option(
        None, help="Needed when the threshold is below the validated minimum."
    ),
    short_notice_reason: str | None = typer.Option(
        None, help="Needed to open within governance.notice_hours of the announcement (audited)."
    ),
    as_: str | None = ActorOption,
) -> None:
    """Open a planned deployment (checks the threshold against the pack's validated minimum)."""
    with store_session() as store:
        d = open_deployment(
            store,
            actor_of(store, as_, roles.OPEN_DEPLOYMENT),
            deployment_id,
            override_reason=override_reason,
            short_notice_reason=short_notice_reason,
        )
    console.print(
        f"deployment [bold]{d.id}[/] is open; scanning is allowed {_fmt(d.starts_at)} to {_fmt(d.ends_at)}"
    )


@deployment_app.command("close")
def deployment_close(
    deployment_id: str = typer.Argument(...),
    reason: str | None = typer.Option(None, help="Why (e.g. operation ended early)."),
    as_: str | None = ActorOption,
) -> None:
    """Close a deployment: its watchlist, images and watchlist key are destroyed."""
    with store_session() as store:
        r = close_deployment(
            store, actor_of(store, as_, roles.CLOSE_DEPLOYMENT), deployment_id, reason=reason
        )
    console.print(
        f"deployment [bold]{deployment_id}[/] closed: {r.subjects_destroyed} watchlist subject(s), "
        f"{r.templates_destroyed} template(s) and {r.blobs_deleted} image file(s) destroyed; watchlist key destroyed"
    )


@deployment_app.command("list")
def deployment_list(
    status: str | None = typer.Option(None, help="planned, open or closed."), as_json: bool = JsonOption
) -> None:
    """Deployments, earliest first."""
    with store_session() as store:
        acting(store, roles.VIEW_DEPLOYMENTS)
        deps = list_deployments(store, status)
    if as_json:
        console.print_json(json.dumps([d.as_dict() for d in deps]))
        return
    table = Table(title="Deployments")
    for col in ("id", "status", "location", "starts", "ends", "cameras", "threshold"):
        table.add_column(col)
    for d in deps:
        table.add_row(
            d.id,
            d.status,
            d.location,
            _fmt(d.starts_at),
            _fmt(d.ends_at),
            str(len(d.cameras)),
            f"{d.threshold:.3f}",
        )
    console.print(table)


@deployment_app.command("show")
def deployment_show(deployment_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """One deployment's details."""
    with store_session() as store:
        acting(store, roles.VIEW_DEPLOYMENTS)
        d = get_deployment(store, deployment_id)
    if as_json:
        console.print_json(json.dumps(d.as_dict()))
    else:
        _show_deployment(d)


# --- watchlist ------------------------------------------------------------------------------------------


def _print_report(report: ImportReport) -> None:
    console.print(
        f"enrolled {report.subjects_enrolled} subject(s) with {report.images_enrolled} image(s), waiting for a "
        "second person's approval (`openlfr watchlist approve`)"
    )
    for r in report.lookalikes:
        console.print(f"[yellow]enrolled despite a lookalike:[/] {r}", highlight=False)
    for r in report.attractors:
        console.print(
            f"[yellow]attracts strangers, enrolled with its own higher threshold:[/] {r}", highlight=False
        )
    if not report.attraction_checked:
        console.print(
            "[yellow]attraction check not run:[/] no reference crowd for this pack in the data folder "
            "(`openlfr evaluate` writes one); recorded in the audit log"
        )
    if report.refused:
        table = Table(title=f"Refused ({len(report.refused)})")
        for col in ("subject", "image", "reason"):
            table.add_column(col)
        for r in report.refused:
            table.add_row(r.subject_id, r.image, r.reason)
        console.print(table)


@watchlist_app.command("enrol")
def watchlist_enrol(
    deployment_id: str = typer.Argument(...),
    images: list[Path] = typer.Argument(..., help="One or more reference images of the subject."),
    subject_id: str = typer.Option(..., help="The force's reference for the subject."),
    category: str = typer.Option(..., help="; ".join(WATCHLIST_CATEGORIES.values())),
    reason: str = typer.Option(..., help="Why they are sought."),
    image_source: str = typer.Option(..., help="Where the image comes from."),
    legal_basis: str = typer.Option(..., help="The legal basis for holding it."),
    approved_by: str = typer.Option(..., help="Who approved the entry."),
    expires: str = typer.Option(..., help="When the entry expires (ISO date or time)."),
    name: str | None = typer.Option(None, help="Name shown to operators."),
    dob: str | None = typer.Option(None, help="Date of birth (YYYY-MM-DD), for the under-18 count."),
    lookalike_reason: str | None = LookalikeOption,
    as_: str | None = ActorOption,
) -> None:
    """Enrol one subject from one or more images (refused images are listed with the reason)."""
    with store_session() as store:
        who = actor_of(store, as_, roles.ENROL_WATCHLIST)
        dob_value: date | None = parse_date(dob, "date of birth") if dob else None
        entry = SubjectEntry(
            subject_id=subject_id,
            category=category,
            reason=reason,
            image_source=image_source,
            legal_basis=legal_basis,
            approved_by=approved_by,
            expires_at=parse_time(expires, "expiry"),
            name=name,
            date_of_birth=dob_value,
            needs_approval=True,
        )
        report = enrol_subject(store, who, deployment_id, entry, images, lookalike_reason=lookalike_reason)
    _print_report(report)


@watchlist_app.command("import")
def watchlist_import(
    deployment_id: str = typer.Argument(...),
    csv_file: Path = typer.Argument(
        ...,
        help="CSV: subject_id, category, reason, image_source, legal_basis, "
        "approved_by, expires_at, images (';'-separated) [, name, date_of_birth].",
    ),
    images: Path | None = typer.Option(
        None, "--images", help="Folder the image names are relative to (default: the CSV's folder)."
    ),
    allow_partial: bool = typer.Option(
        False, help="Enrol the acceptable subjects even if some images are refused."
    ),
    lookalike_reason: str | None = LookalikeOption,
    as_: str | None = ActorOption,
) -> None:
    """Import a whole watchlist. All or nothing: any problem stops it before anything is stored."""
    with (
        store_session() as store,
        Progress(
            TextColumn("analysing images"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("import", total=None)
        report = import_watchlist(
            store,
            actor_of(store, as_, roles.ENROL_WATCHLIST),
            deployment_id,
            csv_file,
            images,
            allow_partial=allow_partial,
            lookalike_reason=lookalike_reason,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            needs_approval=True,
        )
    _print_report(report)


@watchlist_app.command("list")
def watchlist_list(deployment_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """The subjects on a deployment's watchlist (no images), and whether each is approved (searched)."""
    with store_session() as store:
        acting(store, roles.VIEW_WATCHLIST_ENTRIES)
        subjects = list_subjects(store, deployment_id)
        waiting = {p.subject_id for p in pending_entries(store, deployment_id)}
    if as_json:
        console.print_json(
            json.dumps(
                [
                    {
                        **s.__dict__,
                        "expires_at": s.expires_at.isoformat() if s.expires_at else None,
                        "approved": s.subject_id not in waiting,
                    }
                    for s in subjects
                ]
            )
        )
        return
    table = Table(title=f"Watchlist of {deployment_id}: {len(subjects)} subject(s)")
    for col in ("subject", "name", "category", "reason", "images", "expires", "approved"):
        table.add_column(col)
    for s in subjects:
        table.add_row(
            s.subject_id,
            s.name or "",
            s.category_label,
            s.reason,
            str(s.templates),
            _fmt(s.expires_at),
            "no: waiting" if s.subject_id in waiting else "yes",
        )
    console.print(table)


@watchlist_app.command("pending")
def watchlist_pending(deployment_id: str = typer.Argument(...), as_json: bool = JsonOption) -> None:
    """Entries waiting for a second person's approval, with their image quality."""
    with store_session() as store:
        acting(store, roles.VIEW_WATCHLIST_ENTRIES)
        pending = pending_entries(store, deployment_id)
    if as_json:
        console.print_json(json.dumps([p.as_dict() for p in pending]))
        return
    table = Table(title=f"Waiting for approval on {deployment_id}: {len(pending)}")
    for col in ("subject", "name", "category", "reason", "source", "enrolled by", "image quality"):
        table.add_column(col)
    for p in pending:
        table.add_row(
            p.subject_id,
            p.name or "",
            p.category_label,
            p.reason,
            p.image_source,
            p.enrolled_by,
            ", ".join(f"{q:.2f}" for q in p.quality_scores),
        )
    console.print(table)


@watchlist_app.command("approve")
def watchlist_approve(
    deployment_id: str = typer.Argument(...), subject_id: str = typer.Argument(...)
) -> None:
    """Approve an entry someone else enrolled: it is searched from the next watchlist load."""
    with store_session() as store:
        approve_entry(store, acting(store, roles.APPROVE_WATCHLIST), deployment_id, subject_id)
    console.print(f"subject {subject_id} approved on deployment {deployment_id}")


@watchlist_app.command("reject")
def watchlist_reject(
    deployment_id: str = typer.Argument(...),
    subject_id: str = typer.Argument(...),
    reason: str = typer.Option(..., help="Why the entry is rejected (audited)."),
) -> None:
    """Reject a pending entry: it is deleted with its images."""
    with store_session() as store:
        n = reject_entry(store, acting(store, roles.APPROVE_WATCHLIST), deployment_id, subject_id, reason)
    console.print(f"subject {subject_id} rejected; {n} image file(s) deleted")


# --- alert ----------------------------------------------------------------------------------------------


@alert_app.command("list")
def alert_list(
    deployment_id: str | None = typer.Option(None, "--deployment", "-d"),
    after_seq: int | None = typer.Option(None, help="Only alerts after this sequence number."),
    state: str | None = typer.Option(
        None, help="e.g. raised, passed_to_engagement, confirmed_true, disposed."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Alerts, oldest first (no images)."""
    with store_session() as store:
        acting(store, roles.VIEW_ALERTS)
        found = alert_svc.list_alerts(store, deployment_id, after_seq=after_seq, state=state)
    if as_json:
        console.print_json(json.dumps([a.as_dict() for a in found]))
        return
    table = Table(title=f"Alerts ({len(found)})")
    for col in (
        "seq",
        "id",
        "deployment",
        "camera",
        "subject",
        "score",
        "threshold",
        "raised",
        "state",
        "held",
    ):
        table.add_column(col)
    for a in found:
        table.add_row(
            str(a.seq),
            a.id,
            a.deployment_id,
            a.camera_id,
            a.subject_id or "(purged)",
            f"{a.score:.3f}",
            f"{a.threshold:.3f}",
            _fmt(a.raised_at),
            a.state,
            "evidence" if a.evidence_hold else "",
        )
    console.print(table)


def _decided(a: alert_svc.AlertInfo) -> None:
    console.print(f"alert [bold]{a.id}[/] is now {a.state}")


@alert_app.command("review")
def alert_review(
    alert_id: str,
    decision: str = typer.Argument(..., help="false_alert or engage"),
    note: str | None = typer.Option(None),
    as_: str | None = ActorOption,
) -> None:
    """Operator review: dismiss as a false alert, or pass to engagement."""
    with store_session() as store:
        _decided(
            alert_svc.review_alert(
                store, actor_of(store, as_, roles.OPERATOR_REVIEW), alert_id, decision, note=note
            )
        )


@alert_app.command("engage")
def alert_engage(
    alert_id: str,
    outcome: str = typer.Argument(..., help="confirmed_true, confirmed_false or not_engaged"),
    note: str | None = typer.Option(None),
    reason_explained: bool | None = typer.Option(
        None, "--reason-explained/--reason-not-explained", help="Met the person: was the reason explained?"
    ),
    leaflet_given: bool | None = typer.Option(
        None, "--leaflet-given/--leaflet-not-given", help="Met the person: was the leaflet given?"
    ),
    as_: str | None = ActorOption,
) -> None:
    """The engagement outcome, as found by the officer who engaged."""
    with store_session() as store:
        _decided(
            alert_svc.record_engagement(
                store,
                actor_of(store, as_, roles.ENGAGEMENT_OUTCOME),
                alert_id,
                outcome,
                note=note,
                reason_explained=reason_explained,
                leaflet_given=leaflet_given,
            )
        )


@alert_app.command("dispose")
def alert_dispose(
    alert_id: str,
    disposal: str = typer.Argument(..., help="arrest, advice or no_action"),
    note: str | None = typer.Option(None),
    as_: str | None = ActorOption,
) -> None:
    """The disposal that followed the engagement."""
    with store_session() as store:
        _decided(
            alert_svc.record_disposal(
                store, actor_of(store, as_, roles.DISPOSAL), alert_id, disposal, note=note
            )
        )


@alert_app.command("hold")
def alert_hold(
    alert_id: str,
    reason: str = typer.Option(..., help="Why it is kept (e.g. case reference)."),
    as_: str | None = ActorOption,
) -> None:
    """Keep an alert as evidence past its retention period."""
    with store_session() as store:
        alert_svc.hold_as_evidence(store, actor_of(store, as_, roles.EVIDENCE_HOLD), alert_id, reason)
    console.print(f"alert [bold]{alert_id}[/] held as evidence")


@alert_app.command("release")
def alert_release(alert_id: str, reason: str = typer.Option(...), as_: str | None = ActorOption) -> None:
    """End an evidence hold (the next purge deletes it once past its period)."""
    with store_session() as store:
        alert_svc.release_evidence(store, actor_of(store, as_, roles.EVIDENCE_HOLD), alert_id, reason)
    console.print(f"alert [bold]{alert_id}[/] released from evidence")


@alert_app.command("image")
def alert_image(
    alert_id: str,
    out: Path = typer.Option(..., help="File to write the image to."),
    kind: str = typer.Option("probe", help="probe, frame or candidate"),
    as_: str | None = ActorOption,
) -> None:
    """Write an alert's image to a file (audited)."""
    if kind not in ("probe", "frame", "candidate"):
        fail("--kind must be probe, frame or candidate")
    with store_session() as store:
        data = alert_svc.alert_image(store, actor_of(store, as_, roles.EXPORT_ALERT_IMAGES), alert_id, kind)  # type: ignore[arg-type]
    out.write_bytes(data)
    console.print(f"{kind} image of alert {alert_id} written to {out}")


# --- purge, audit, report -------------------------------------------------------------------------------


@app.command("purge")
def purge(as_json: bool = JsonOption) -> None:
    """Apply retention: purge alerts past their period, close ended deployments, drop expired entries."""
    with store_session() as store:
        report = run_purge(store, audit_svc.SYSTEM)
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
        return
    console.print(
        f"purged {report.alerts_purged} alert(s) ({report.blobs_deleted} file(s)); "
        f"closed {len(report.deployments_closed)} ended deployment(s); "
        f"deleted {report.subjects_expired} expired watchlist entr(ies); "
        f"kept {len(report.kept_as_evidence)} as evidence and {len(report.kept_under_adjudication)} under adjudication"
    )


@audit_app.command("verify")
def audit_verify(
    expect_head: str | None = typer.Option(
        None,
        "--expect-head",
        help="An anchor kept elsewhere (e.g. a published record's audit_checkpoint.head): the hash row "
        "--min-rows must have.",
    ),
    min_rows: int | None = typer.Option(
        None, "--min-rows", min=1, help="The log must have at least this many rows (the anchor's rows)."
    ),
    as_: str | None = ActorOption,
) -> None:
    """Check the keyed chain against the signed checkpoints (and an anchor, if given); names the first edited,
    inserted, deleted or rewritten row, or a cut-off tail (exit status 1 if broken)."""
    with store_session() as store:
        result = audit_svc.verify(
            store, actor_of(store, as_, roles.VERIFY_AUDIT), expect_head=expect_head, min_rows=min_rows
        )
    if result.ok:
        console.print(f"[green]{result}[/]", highlight=False)
    else:
        err_console.print(f"[bold red]{result}[/]", highlight=False)
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the log as it stands and print it (JSON): keep it somewhere else as an anchor."""
    with store_session() as store:
        acting(store, roles.VERIFY_AUDIT)
        cp = audit_svc.checkpoint_now(store)
    console.print_json(json.dumps(cp))


@audit_app.command("show")
def audit_show(
    deployment_id: str | None = typer.Option(None, "--deployment", "-d"),
    action: str | None = typer.Option(None, help="e.g. alert.* or deployment.open"),
    last: int | None = typer.Option(50, help="Only the newest N rows (0: all)."),
    as_json: bool = JsonOption,
) -> None:
    """Audit rows, oldest first."""
    with store_session() as store:
        acting(store, roles.VIEW_AUDIT)
        rows = audit_svc.entries(store, deployment_id=deployment_id, action=action, last=last or None)
    if as_json:
        console.print_json(json.dumps([audit_svc.entry_as_dict(e) for e in rows]))
        return
    table = Table(title="Audit log")
    for col in ("seq", "at", "actor", "action", "deployment", "target", "details"):
        table.add_column(col)
    for e in rows:
        table.add_row(
            str(e.seq),
            _fmt(e.at),
            f"{e.actor} ({e.role})" if e.role else e.actor,
            e.action,
            e.deployment_id or "",
            e.target or "",
            e.details[:80],
        )
    console.print(table)


@report_app.command("deployment")
def report_deployment(
    deployment_id: str = typer.Argument(...),
    out: Path = typer.Option(Path("."), "--out", help="Folder for the JSON, CSV and HTML files."),
    as_: str | None = ActorOption,
) -> None:
    """Write a deployment's published record as JSON, CSV and HTML."""
    with store_session() as store:
        rec = deployment_record(store, deployment_id, actor_of(store, as_, roles.VIEW_RECORD))
    try:
        paths = write_record(rec, out)
    except OSError as exc:
        fail(f"cannot write the record to {out}: {exc.strerror or exc}")
    for p in paths:
        console.print(f"wrote {p}")
