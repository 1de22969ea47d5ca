"""``openlfr purge``, ``openlfr audit verify|checkpoint|show`` and ``openlfr report deployment``: retention,
the hash-chained audit log and the published record of a deployment (``report period`` is in
:mod:`openlfr.cli.promises`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import app, console, err_console, fail
from openlfr.cli.governance import (
    ActorOption,
    JsonOption,
    _fmt,
    actor_of,
    audit_app,
    report_app,
)
from openlfr.cli.identity import acting
from openlfr.cli.store_access import store_session
from openlfr.governance import audit as audit_svc
from openlfr.governance.report import deployment_record, write_record
from openlfr.governance.retention import purge as run_purge
from openlfr.store.auth_models import Role

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
