"""``openlfr alert list|review|engage|dispose|hold|release|image``: alerts and their adjudication by people
(``renew-evidence`` is in :mod:`openlfr.cli.promises`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import console, fail
from openlfr.cli.governance import (
    ActorOption,
    JsonOption,
    _fmt,
    actor_of,
    alert_app,
)
from openlfr.cli.identity import acting
from openlfr.cli.store_access import store_session
from openlfr.governance import alerts as alert_svc
from openlfr.governance.outcomes import OTHER_OFFENCES, OutcomeDetail

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
