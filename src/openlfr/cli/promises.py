"""What the public is promised (issue 15): ``openlfr leaflet ID``, ``openlfr deployment signage-in-place ID``,
``openlfr report period --from --to`` and ``openlfr alert renew-evidence ID``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from openlfr.api import roles
from openlfr.cli.app import app, console, fail, settings
from openlfr.cli.governance import (
    ActorOption,
    JsonOption,
    actor_of,
    alert_app,
    deployment_app,
    report_app,
    when,
)
from openlfr.cli.store_access import store_session
from openlfr.governance import alerts as alert_svc
from openlfr.governance.deployment_opening import record_signage
from openlfr.governance.deployments import get_deployment
from openlfr.governance.report import period_totals, write_period


@deployment_app.command("signage-in-place")
def deployment_signage_in_place(
    deployment_id: str = typer.Argument(..., help="The deployment's id (from `openlfr deployment list`)."),
    note: str | None = typer.Option(None, help="Where the signs are, anything worth recording."),
    as_: str | None = ActorOption,
) -> None:
    """Record that the signs are up at the place (who, when): a deployment cannot open without it."""
    with store_session() as store:
        d = record_signage(store, actor_of(store, as_, roles.RECORD_SIGNAGE), deployment_id, note=note)
    console.print(f"signage recorded in place for deployment [bold]{d.id}[/] by {d.signage_in_place_by}")


@app.command()
def leaflet(
    deployment_id: str = typer.Argument(..., help="The deployment the leaflet is for."),
    out: Path = typer.Option(None, "--out", "-o", help="Output file (.html; default leaflet-<id>.html)."),
) -> None:
    """Write the A5 leaflet officers hand out: what happens, your rights, retention, who to contact, QR."""
    from openlfr.web.signage import public_url, render_leaflet

    s = settings()
    with store_session() as store:
        dep = get_deployment(store, deployment_id)
    target = out or Path(f"leaflet-{deployment_id}.html")
    try:
        target.write_text(render_leaflet(s, dep), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    console.print(f"leaflet written to {target} (QR code: {public_url(s, dep.id)})")


@report_app.command("period")
def report_period(
    start: str = typer.Option(
        ..., "--from", help="Start of the period, ISO time with zone (2030-01-01T00:00Z)."
    ),
    end: str = typer.Option(..., "--to", help="End of the period (not included), ISO time with zone."),
    out: Path | None = typer.Option(None, "--out", help="Also write JSON, CSV and HTML into this folder."),
    as_: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Totals over the deployments that started in a period: the figures a force publishes yearly."""
    with store_session() as store:
        totals = period_totals(
            store, when(start, "--from"), when(end, "--to"), actor_of(store, as_, roles.VIEW_RECORD)
        )
    if out is not None:
        try:
            paths = write_period(totals, out)
        except OSError as exc:
            fail(f"cannot write the totals to {out}: {exc.strerror or exc}")
        for p in paths:
            console.print(f"wrote {p}")
    if as_json:
        console.print_json(json.dumps(totals))
        return
    from openlfr.governance.report import PERIOD_FIELDS, _cell

    for key, label in PERIOD_FIELDS:
        console.print(f"{label}: [bold]{_cell(totals.get(key))}[/]")


@alert_app.command("renew-evidence")
def alert_renew_evidence(
    alert_id: str = typer.Argument(..., help="The alert's id (from `openlfr alert list`)."),
    reason: str = typer.Option(..., help="Why the alert is still needed as evidence."),
    review: str | None = typer.Option(
        None, help="Next review date (default: retention.evidence_review_days)."
    ),
    as_: str | None = ActorOption,
) -> None:
    """Renew an evidence hold to a new review date; unrenewed, it lapses at the purge."""
    with store_session() as store:
        a = alert_svc.renew_evidence(
            store,
            actor_of(store, as_, roles.EVIDENCE_HOLD),
            alert_id,
            reason,
            review_at=when(review, "--review") if review else None,
        )
    console.print(f"alert [bold]{a.id}[/] held as evidence until its review on {a.evidence_review_at}")
