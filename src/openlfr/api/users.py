"""Local users, login (with throttling), browser sessions and API bearer tokens.

Service functions over :class:`openlfr.store.Store`; the routers in :mod:`openlfr.api.auth` and the
``openlfr user`` commands call them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from openlfr.api import security
from openlfr.errors import OpenLFRError
from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import AuthSession, LoginAttempt, Role, User

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class UserError(OpenLFRError, ValueError):
    """A user cannot be created or changed (the message says why)."""


class LoginThrottled(OpenLFRError, RuntimeError):
    """Too many failed logins for this user or from this address within the window."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Principal:
    """Who is making a request: the user, their role, and how they authenticated."""

    user_id: int
    username: str
    display_name: str
    role: Role
    session_id: int
    via_cookie: bool
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return self.username


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().lower().replace(" ", "_").replace("-", "_"))
    except ValueError:
        raise UserError(f"unknown role {value!r}; roles: {', '.join(r.value for r in Role)}") from None


def create_user(
    store: Store, username: str, password: str, role: Role | str, display_name: str = "", *, actor: ActorLike
) -> User:
    """Create a local user; the grant of a role is audited in the same transaction (rule 6)."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise UserError("username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    role = role if isinstance(role, Role) else parse_role(role)
    try:
        security.check_password_strength(password, username)
    except security.WeakPasswordError as exc:
        raise UserError(str(exc)) from None
    with store.session() as session:
        if session.scalar(select(User).where(User.username == username)) is not None:
            raise UserError(f"user {username!r} already exists")
        user = User(
            username=username,
            display_name=display_name.strip() or username,
            role=role.value,
            password_hash=security.hash_password(password),
            active=True,
            created_at=utcnow(),
        )
        session.add(user)
        session.flush()
        audit.record(session, actor, "user.create", target=username, details={"role": role.value})
        session.expunge(user)
    return user


def list_users(store: Store) -> list[User]:
    with store.session() as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        for u in users:
            session.expunge(u)
    return users


def set_active(store: Store, username: str, active: bool, *, actor: ActorLike) -> None:
    """Enable or disable an account (audited); disabling also revokes its sessions and tokens."""
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise UserError(f"no user {username!r}")
        user.active = active
        audit.record(session, actor, "user.enable" if active else "user.disable", target=username)
        if not active:
            for s in user.sessions:
                s.revoked = True


def _failures_since(store: Store, column: Any, value: str, since: datetime) -> tuple[int, datetime | None]:
    with store.session() as session:
        row = session.execute(
            select(func.count(), func.min(LoginAttempt.at)).where(
                column == value,
                LoginAttempt.at >= since,
                LoginAttempt.succeeded.is_(False),
            )
        ).one()
    return int(row[0]), row[1]


def login(
    store: Store,
    username: str,
    password: str,
    address: str,
    kind: str = "cookie",
    now: datetime | None = None,
) -> tuple[str, Principal]:
    """Check the password and open a session (``kind="cookie"``) or a bearer token (``"bearer"``).

    Returns the token (to hand to the client once) and the principal. Raises :class:`LoginThrottled`
    when too many logins failed recently for this username or from this address, and
    :class:`PermissionError` for a wrong username or password (the same message for both).
    """
    settings = store.settings.server
    now = now or utcnow()
    username = username.strip().lower()[:64]
    address = address[:64]
    window = timedelta(seconds=settings.login_lockout_seconds)
    limit = settings.login_attempts_per_minute
    for column, value in ((LoginAttempt.username, username), (LoginAttempt.address, address)):
        failures, first = _failures_since(store, column, value, now - window)
        if failures >= limit:
            retry = (first + window - now).total_seconds() if first else window.total_seconds()
            raise LoginThrottled(max(1, int(retry + 0.999)))
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        ok = security.verify_password(user.password_hash if user else None, password)
        ok = ok and user is not None and user.active
        session.add(LoginAttempt(username=username, address=address, at=now, succeeded=ok))
        if ok and user is not None:
            if security.needs_rehash(user.password_hash):
                user.password_hash = security.hash_password(password)
            token = security.new_token()
            hours = settings.session_hours if kind == "cookie" else settings.token_hours
            auth = AuthSession(
                token_sha256=security.token_digest(token),
                user_id=user.id,
                kind=kind,
                csrf_token=security.new_token(),
                created_at=now,
                expires_at=now + timedelta(hours=hours),
                revoked=False,
            )
            session.add(auth)
            session.flush()
            principal = _principal(user, auth)
            # Old attempts are only needed for the window; keep the table small.
            session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))
            return token, principal
    # The failed attempt was committed above (it counts towards throttling) before refusing.
    raise PermissionError("wrong username or password")


def _principal(user: User, auth: AuthSession) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        session_id=auth.id,
        via_cookie=auth.kind == "cookie",
        csrf_token=auth.csrf_token,
    )


def resolve(store: Store, token: str, kind: str, now: datetime | None = None) -> Principal | None:
    """The principal behind a live, unrevoked session or token of ``kind``; None otherwise."""
    now = now or utcnow()
    with store.session() as session:
        auth = session.scalar(
            select(AuthSession).where(AuthSession.token_sha256 == security.token_digest(token))
        )
        if auth is None or auth.kind != kind or auth.revoked or auth.expires_at <= now:
            return None
        user = auth.user
        if not user.active:
            return None
        return _principal(user, auth)


def logout(store: Store, session_id: int) -> None:
    with store.session() as session:
        auth = session.get(AuthSession, session_id)
        if auth is not None:
            auth.revoked = True
