"""Issue 25: a deployment is opened, and so authorised, by a user of the user table with a rank. Tests that
call ``open_deployment`` directly get such a user here."""

from __future__ import annotations

from sqlalchemy import select

from openlfr.governance.audit import Actor
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import Role, User


def authoriser(
    store: Store, username: str = "sup", rank: str | None = "superintendent", name: str = "Supt. Jones"
) -> Actor:
    """An authorising officer of this rank in ``store`` (created once; no password: it never logs in)."""
    with store.session() as s:
        if s.scalar(select(User).where(User.username == username)) is None:
            s.add(
                User(
                    username=username,
                    display_name=name,
                    role=Role.AUTHORISING_OFFICER.value,
                    rank=rank,
                    password_hash="!",  # not an argon2 hash: nobody can log in as this user
                    active=True,
                    created_at=utcnow(),
                )
            )
    return Actor(username, Role.AUTHORISING_OFFICER.value)
