"""The demo's own local users: the demo acts through real accounts and roles, like anyone else.

One user per role (those the demo acts in, plus an engagement officer and an admin for the newcomer to try), with random passwords written to a file only this OS account can read
(a throw-away demo folder), and the command line left logged in as the demo operator so that the printed
``openlfr alert review`` works as is.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from openlfr.api.users import create_user, login
from openlfr.cli.app import console
from openlfr.cli.identity import TOKEN_KIND, os_account, save_token
from openlfr.governance.audit import Actor
from openlfr.governance.watchlist_approval import approve_entry, pending_entries
from openlfr.store import Store
from openlfr.store.auth_models import Role

PASSWORDS_FILE = "demo-users.txt"
_USERS = (
    ("demo-inspector", Role.AUTHORISING_OFFICER),
    ("demo-reviewer", Role.REVIEWER),
    ("demo-superintendent", Role.AUTHORISING_OFFICER),
    ("demo-auditor", Role.AUDITOR),
    ("demo-operator", Role.OPERATOR),
    # Not acting in the demo itself, so that a newcomer can try every role on the demo's store (issue 24):
    # `openlfr user add` needs a logged-in admin, which the demo would otherwise leave no way to get.
    ("demo-engagement-officer", Role.ENGAGEMENT_OFFICER),
    ("demo-admin", Role.ADMIN),
    ("demo-data-protection", Role.DATA_PROTECTION),  # subject access and erasure by reference (issue 27)
)
# Police ranks (issue 25): the superintendent opens, and so authorises, the demo deployment.
_RANKS = {"demo-inspector": "inspector", "demo-superintendent": "superintendent"}


@dataclass(frozen=True)
class DemoUsers:
    planner: Actor
    """Plans the deployment, enrols the watchlist, closes, publishes the record."""
    reviewer: Actor
    """The second person who approves each watchlist entry."""
    superintendent: Actor
    """Opens the deployment."""
    auditor: Actor
    """Verifies the audit log."""
    passwords_file: Path


def provision(store: Store) -> DemoUsers:
    """Create the demo users in a fresh demo store and log the command line in as the demo operator."""
    passwords: dict[str, str] = {}
    actors: dict[str, Actor] = {}
    for username, role in _USERS:
        passwords[username] = secrets.token_urlsafe(24)
        create_user(
            store,
            username,
            passwords[username],
            role,
            actor=Actor(os_account(), "bootstrap"),
            rank=_RANKS.get(username),
        )
        actors[username] = Actor(username, role.value)
    token, _ = login(store, "demo-operator", passwords["demo-operator"], "demo", kind=TOKEN_KIND)
    save_token(store.settings, token)
    path = store.settings.data_dir / PASSWORDS_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.writelines(f"{u} {pw}\n" for u, pw in passwords.items())
    console.print(
        f"Demo users, one per role: {', '.join(f'{u} ({r.label})' for u, r in _USERS)}. The command line is "
        f"logged in as demo-operator; the others' passwords are in {path} (`openlfr login demo-auditor`).",
        highlight=False,
    )
    return DemoUsers(
        actors["demo-inspector"],
        actors["demo-reviewer"],
        actors["demo-superintendent"],
        actors["demo-auditor"],
        path,
    )


def approve_pending(store: Store, users: DemoUsers, deployment_id: str) -> int:
    """The reviewer, a second person, approves every entry the planner enrolled; returns how many."""
    pending = pending_entries(store, deployment_id)
    for entry in pending:
        approve_entry(store, users.reviewer, deployment_id, entry.subject_id)
    console.print(f"{len(pending)} watchlist entr(ies) approved by {users.reviewer.name}, a second person")
    return len(pending)
