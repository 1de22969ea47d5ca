"""``openlfr deployment create|open|close|list|show``: planning, authorising, closing and reading deployments
from a shell (``signage-in-place`` and ``document`` are in :mod:`openlfr.cli.promises` and
:mod:`openlfr.cli.rights`).
"""

from __future__ import annotations

import json

import typer
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import clean_errors, console
from openlfr.cli.governance import (
    ActorOption,
    JsonOption,
    _fmt,
    actor_of,
    deployment_app,
    when,
)
from openlfr.cli.identity import acting
from openlfr.cli.store_access import ERRORS, store_session
from openlfr.governance.deployment_checks import default_threshold
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_opening import open_deployment
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.deployments import DeploymentInfo, get_deployment, list_deployments
from openlfr.store.models import DEPLOYMENT_PURPOSE_CATEGORIES


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
