"""The governance layer from a shell: what its command groups share.

``openlfr deployment|watchlist|alert|audit|report`` are created and registered on the app here, with the
options and helpers their commands share; the commands are in one module per group
(:mod:`openlfr.cli.governance_deployments`, :mod:`~openlfr.cli.governance_watchlists`,
:mod:`~openlfr.cli.governance_alerts`, :mod:`~openlfr.cli.governance_records`).

Every command acts as the user logged in with ``openlfr login`` and is checked against the role table in
:mod:`openlfr.api.roles`, as the API and the console are; what it changes or reads is audited under that
user and role.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from openlfr.cli.app import app, fail
from openlfr.cli.identity import DeclaredActorOption, acting
from openlfr.governance.audit import Actor
from openlfr.store import Store
from openlfr.store.auth_models import Role

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
