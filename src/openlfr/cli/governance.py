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
from openlfr.governance.closed_lists import IMAGE_SOURCES, OFFENCE_SERIOUSNESS
from openlfr.governance.deployment_checks import default_threshold
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_opening import open_deployment
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.deployments import DeploymentInfo, get_deployment, list_deployments
from openlfr.governance.outcomes import OTHER_OFFENCES, OutcomeDetail
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


def _authorised_by(d: DeploymentInfo) -> str:
    if d.authorised_by_user is not None:
        return f"{d.authorising_officer} ({d.authorising_role}), user {d.authorised_by_user}, who opened it"
    if d.status == "planned":
        return "not yet authorised: opening it authorises it"
    return f"{d.authorising_officer} ({d.authorising_role or 'authorising officer'}), as entered at planning"


def _show_deployment(d: DeploymentInfo) -> None:
    table = Table(show_header=False, title=f"Deployment {d.id}")
    for k, v in (
        ("status", d.status),
        ("purpose", d.purpose),
        ("purpose category", d.purpose_category_label or "-"),
        ("legal basis", d.legal_basis or "-"),
        ("location", d.location),
        ("window", f"{_fmt(d.starts_at)} to {_fmt(d.ends_at)}"),
        ("authorised by", _authorised_by(d)),
        ("proposed at planning", f"{d.proposed_officer or '-'} ({d.proposed_role or '-'})"),
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
        ("objective", d.objective or "-"),
        ("success measures", "; ".join(d.success_measures) or "-"),
        (
            "run on behalf of",
            f"{d.on_behalf_of} (data controller {d.on_behalf_of_controller})" if d.on_behalf_of else "-",
        ),
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
    officer: str | None = typer.Option(
        None,
        "--officer",
        help="Proposed authorising officer's name (internal). Whoever opens the deployment authorises it: "
        "their name and rank from the user table replace the proposal.",
    ),
    officer_role: str | None = typer.Option(
        None,
        "--officer-role",
        help="Proposed authorising officer's rank, e.g. Superintendent (published as a proposal until opened).",
    ),
    camera: list[str] = typer.Option(..., "--camera", help="A camera id (repeat for several)."),
    pack: str | None = typer.Option(None, help="Model pack (default: the configured one)."),
    threshold: float | None = typer.Option(
        None,
        help="Alert threshold (default: the validated minimum for the watchlist this data folder will "
        "enrol: checked against the reference crowd if there is one, else unchecked; the reason is printed).",
    ),
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
    objective: str | None = typer.Option(
        None, help="What the deployment is meant to achieve (published; the record reports against it)."
    ),
    success_measure: list[str] = typer.Option(
        [], "--success-measure", help="How success is judged (repeat; published beside the outcomes)."
    ),
    on_behalf_of: str | None = typer.Option(
        None, "--on-behalf-of", help="The force it is run for, when not this force (published)."
    ),
    on_behalf_of_controller: str | None = typer.Option(
        None,
        "--on-behalf-of-controller",
        help="That force's data controller (required with --on-behalf-of; published beside this force's).",
    ),
    as_: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Plan a deployment (nothing is scanned until it is opened)."""
    with store_session() as store, clean_errors(*ERRORS):
        why = None
        if threshold is None:
            threshold, why = default_threshold(store, pack or store.settings.vision.pack)
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
            objective=objective,
            success_measures=success_measure,
            on_behalf_of=on_behalf_of,
            on_behalf_of_controller=on_behalf_of_controller,
        )
    if as_json:
        console.print_json(json.dumps({**d.as_dict(), "threshold_reason": why}))
    else:
        console.print(
            f"deployment [bold]{d.id}[/] planned: {d.location}, {_fmt(d.starts_at)} to {_fmt(d.ends_at)}"
        )
        if why is not None:
            console.print(f"threshold {d.threshold:.3f}: {why}", highlight=False)


@deployment_app.command("open")
def deployment_open(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    override_reason: str | None = typer.Option(
        None, help="Needed when the threshold is below the validated minimum."
    ),
    short_notice_reason: str | None = typer.Option(
        None, help="Needed to open within governance.notice_hours of the announcement (audited)."
    ),
    as_: str | None = ActorOption,
) -> None:
    """Open a planned deployment, and so authorise it: you are the authorising officer (your rank must be at
    least governance.min_authorising_rank). Checks the threshold against the pack's validated minimum and
    that at least one watchlist entry is approved."""
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
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
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
def deployment_show(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    as_json: bool = JsonOption,
) -> None:
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
            "(`openlfr calibration crowd --from DIR` builds one); recorded in the audit log, and the "
            "deployment is held to the stricter minimum validated without the check"
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
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    images: list[Path] = typer.Argument(..., help="One or more reference images of the subject."),
    subject_id: str = typer.Option(..., help="The force's reference for the subject."),
    category: str = typer.Option(
        ..., help="By key or words: " + "; ".join(f"{k} ({v})" for k, v in WATCHLIST_CATEGORIES.items())
    ),
    reason: str = typer.Option(..., help="Why they are sought."),
    image_source: str = typer.Option(
        ..., help="Where the image comes from: " + "; ".join(f"{k} ({v})" for k, v in IMAGE_SOURCES.items())
    ),
    offence_seriousness: str | None = typer.Option(
        None,
        "--offence-seriousness",
        help="Required unless the category concerns no offence: "
        + "; ".join(f"{k} ({v})" for k, v in OFFENCE_SERIOUSNESS.items()),
    ),
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
            offence_seriousness=offence_seriousness,
            needs_approval=True,
        )
        report = enrol_subject(store, who, deployment_id, entry, images, lookalike_reason=lookalike_reason)
    _print_report(report)


@watchlist_app.command("import")
def watchlist_import(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    csv_file: Path = typer.Argument(
        ...,
        help="CSV: subject_id, category, reason, image_source, legal_basis, "
        "approved_by, expires_at, images (';'-separated) [, name, date_of_birth, offence_seriousness].",
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
def watchlist_list(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    as_json: bool = JsonOption,
) -> None:
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
def watchlist_pending(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    as_json: bool = JsonOption,
) -> None:
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
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    subject_id: str = typer.Argument(..., help="The watchlist entry's subject id."),
) -> None:
    """Approve an entry someone else enrolled: it is searched from the next watchlist load."""
    with store_session() as store:
        approve_entry(store, acting(store, roles.APPROVE_WATCHLIST), deployment_id, subject_id)
    console.print(f"subject {subject_id} approved on deployment {deployment_id}")


@watchlist_app.command("reject")
def watchlist_reject(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    subject_id: str = typer.Argument(..., help="The watchlist entry's subject id."),
    reason: str = typer.Option(..., help="Why the entry is rejected (audited)."),
) -> None:
    """Reject a pending entry: it is deleted with its images."""
    with store_session() as store:
        n = reject_entry(store, acting(store, roles.APPROVE_WATCHLIST), deployment_id, subject_id, reason)
    console.print(f"subject {subject_id} rejected; {n} image file(s) deleted")


# --- alert ----------------------------------------------------------------------------------------------


@alert_app.command("list")
def alert_list(
    deployment_id: str | None = typer.Option(None, "--deployment", "-d", help="Only this deployment's."),
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
    if a.reference and a.state in alert_svc.MET:
        console.print(
            f"the person's reference: [bold]{a.reference}[/] (write it on their leaflet: it is how they "
            "ask what is held about this encounter)"
        )


@alert_app.command("review")
def alert_review(
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
    decision: str = typer.Argument(..., help="false_alert or engage"),
    note: str | None = typer.Option(None, help="A note recorded with the decision (audited)."),
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
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
    outcome: str = typer.Argument(..., help="confirmed_true, confirmed_false or not_engaged"),
    note: str | None = typer.Option(None, help="A note recorded with the decision (audited)."),
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
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
    disposal: str = typer.Argument(..., help="arrest, advice or no_action"),
    note: str | None = typer.Option(None, help="A note recorded with the decision (audited)."),
    use_of_force: bool | None = typer.Option(
        None, "--force-used/--no-force-used", help="Whether force was used (counted in the record)."
    ),
    watchlist_reason: bool | None = typer.Option(
        None,
        "--for-watchlist-reason/--not-for-watchlist-reason",
        help="Arrest: whether it was for the reason the person was on the watchlist.",
    ),
    other_offence: list[str] = typer.Option(
        [],
        "--other-offence",
        help="Arrest: another offence it was for (repeat): " + "; ".join(OTHER_OFFENCES) + ".",
    ),
    custody_reference: str | None = typer.Option(
        None,
        "--custody-reference",
        help="Custody or crime reference: kept with the alert, encrypted, never published.",
    ),
    as_: str | None = ActorOption,
) -> None:
    """The disposal that followed the engagement, with its outcome detail."""
    detail = OutcomeDetail(
        use_of_force=use_of_force,
        arrest_for_watchlist_reason=watchlist_reason,
        other_offences=tuple(other_offence),
        custody_reference=custody_reference,
    )
    with store_session() as store:
        _decided(
            alert_svc.record_disposal(
                store, actor_of(store, as_, roles.DISPOSAL), alert_id, disposal, note=note, detail=detail
            )
        )


@alert_app.command("hold")
def alert_hold(
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
    reason: str = typer.Option(..., help="Why it is kept (e.g. case reference)."),
    as_: str | None = ActorOption,
) -> None:
    """Keep an alert as evidence past its retention period."""
    with store_session() as store:
        alert_svc.hold_as_evidence(store, actor_of(store, as_, roles.EVIDENCE_HOLD), alert_id, reason)
    console.print(f"alert [bold]{alert_id}[/] held as evidence")


@alert_app.command("release")
def alert_release(
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
    reason: str = typer.Option(..., help="Why the evidence hold ends (audited)."),
    as_: str | None = ActorOption,
) -> None:
    """End an evidence hold (the next purge deletes it once past its period)."""
    with store_session() as store:
        alert_svc.release_evidence(store, actor_of(store, as_, roles.EVIDENCE_HOLD), alert_id, reason)
    console.print(f"alert [bold]{alert_id}[/] released from evidence")


@alert_app.command("image")
def alert_image(
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
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
def purge(as_: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Apply retention as the logged-in user: purge alerts past their deployment's retention promise (fixed
    when it opened), close ended deployments, drop expired entries. Undecided alerts go to a supervisor
    first and are kept until the escalation period has passed."""
    with store_session() as store:
        report = run_purge(store, actor_of(store, as_, roles.RUN_PURGE))
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
    """Check the keyed chain against the signed checkpoints, the witness (store.audit_witness_file) and an
    anchor, if given; names the first edited, inserted, deleted or rewritten row, a cut-off tail, a log or
    checkpoint log behind or forked from its witness, a lost key file or a replaced public.key (exit status 1
    if broken)."""
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
    deployment_id: str | None = typer.Option(None, "--deployment", "-d", help="Only this deployment's."),
    action: str | None = typer.Option(None, help="e.g. alert.* or deployment.open"),
    last: int | None = typer.Option(50, help="Only the newest N rows (0: all)."),
    as_json: bool = JsonOption,
) -> None:
    """Audit rows, oldest first (alert details redacted for a role that may not see alerts)."""
    from openlfr.api import audit_view

    with store_session() as store:
        role = Role(acting(store, roles.VIEW_AUDIT).role)
        rows = audit_svc.entries(store, deployment_id=deployment_id, action=action, last=last or None)
    if as_json:
        console.print_json(json.dumps([audit_view.row_as_dict(e, role) for e in rows]))
        return
    table = Table(title="Audit log")
    for col in ("seq", "at", "actor", "action", "deployment", "target", "details"):
        table.add_column(col)
    for e in audit_view.visible_rows(rows, role):
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
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
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
