"""``openlfr watchlist enrol|import|list|pending|approve|reject``: a deployment's watchlist from a shell,
with the second person's approval of what is enrolled.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import console, err_console
from openlfr.cli.governance import (
    ActorOption,
    JsonOption,
    _fmt,
    actor_of,
    watchlist_app,
)
from openlfr.cli.identity import acting
from openlfr.cli.store_access import store_session
from openlfr.governance.closed_lists import IMAGE_SOURCES, OFFENCE_SERIOUSNESS
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
from openlfr.store.models import WATCHLIST_CATEGORIES

LookalikeOption = typer.Option(
    None,
    help="Enrol images that look like another subject anyway, stating why they are different people "
    "(audited). Without it they are refused as possible duplicates.",
)

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
