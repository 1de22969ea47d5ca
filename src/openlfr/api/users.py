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
from sqlalchemy.orm import Session

from openlfr.api import security
from openlfr.errors import OpenLFRError
from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.ranks import UnknownRank, parse_rank
from openlfr.safetext import UnsafeText, check_published_text
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import AuthSession, LoginAttempt, Role, User

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class UserError(OpenLFRError, ValueError):
    """A user cannot be created or changed (the message says why)."""


class LoginThrottled(OpenLFRError, RuntimeError):
    """Too many failed logins for this user from this address, or from this address for any user.

    ``since``: when this throttling window began (the failure that started it), so that the caller audits
    one row per window rather than one per refused attempt; ``scope``: ``"user_address"`` or ``"address"``.
    """

    def __init__(
        self, retry_after_s: int, since: datetime | None = None, scope: str = "user_address"
    ) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s
        self.since = since
        self.scope = scope


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


def _rank_key(rank: str | None) -> str | None:
    if rank is None or not rank.strip():
        return None
    try:
        return parse_rank(rank).key
    except UnknownRank as exc:
        raise UserError(str(exc)) from None


def create_user(
    store: Store,
    username: str,
    password: str,
    role: Role | str,
    display_name: str = "",
    *,
    actor: ActorLike,
    rank: str | None = None,
) -> User:
    """Create a local user; the grant of a role (and of a police ``rank``, if given: a key or the words of
    :data:`openlfr.ranks.RANKS`) is audited in the same transaction (rule 6)."""
    rank_key = _rank_key(rank)
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise UserError("username must be 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    role = role if isinstance(role, Role) else parse_role(role)
    try:
        check_published_text("display name", display_name)
    except UnsafeText as exc:
        raise UserError(str(exc)) from None
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
            rank=rank_key,
            password_hash=security.hash_password(password),
            active=True,
            created_at=utcnow(),
        )
        session.add(user)
        session.flush()
        audit.record(
            session, actor, "user.create", target=username, details={"role": role.value, "rank": rank_key}
        )
        session.expunge(user)
    return user


def set_rank(store: Store, username: str, rank: str | None, *, actor: ActorLike) -> str | None:
    """Record (or, with None or "", clear) a user's police rank; audited with the old and new rank. Only an
    admin may (the callers check ``roles.MANAGE_USERS``); nobody sets their own, so a rank that lets its
    holder authorise a deployment is always granted by a second person."""
    rank_key = _rank_key(rank)
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username.strip().lower()))
        if user is None:
            raise UserError(f"no user {username!r}")
        if audit.as_actor(actor).name == user.username:
            raise UserError("nobody records their own rank: another admin does")
        previous, user.rank = user.rank, rank_key
        audit.record(
            session, actor, "user.rank", target=user.username, details={"from": previous, "to": rank_key}
        )
    return rank_key


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


def _failures(session: Session, since: datetime, *conditions: Any) -> list[datetime]:
    """Times of the failed attempts matching ``conditions`` since ``since``, oldest first."""
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(*conditions, LoginAttempt.at >= since, LoginAttempt.succeeded.is_(False))
            .order_by(LoginAttempt.at)
        )
    )


def throttle(store: Store, username: str, address: str, now: datetime) -> LoginThrottled | None:
    """Whether a login for ``username`` from ``address`` must wait, and how long.

    Failures are counted per (user, address): someone guessing an officer's password from one address
    locks only that pair, never the officer's own logins from elsewhere. ``login_attempts_per_minute``
    failures (since the pair's last success, within a day) lock the pair for ``login_lockout_seconds``,
    each further failure doubles the lock (back-off) up to ``login_max_lockout_seconds``. Separately, one
    address failing ``login_attempts_per_address`` times within the window, across any usernames
    (password spraying), is locked for the window.
    """
    settings = store.settings.server
    window = timedelta(seconds=settings.login_lockout_seconds)
    with store.session() as session:
        pair = (LoginAttempt.username == username, LoginAttempt.address == address)
        last_ok = session.scalar(
            select(func.max(LoginAttempt.at)).where(*pair, LoginAttempt.succeeded.is_(True))
        )
        since = max(now - timedelta(days=1), last_ok) if last_ok else now - timedelta(days=1)
        failed = _failures(session, since, *pair)
        over = len(failed) - settings.login_attempts_per_minute
        if over >= 0:
            lock_s = min(window.total_seconds() * 2**over, settings.login_max_lockout_seconds)
            until = failed[-1] + timedelta(seconds=lock_s)
            if now < until:
                # This lock began with the latest failure: a later lock (after more failures) is a new window.
                return LoginThrottled(max(1, int((until - now).total_seconds() + 0.999)), failed[-1])
        by_address = _failures(session, now - window, LoginAttempt.address == address)
        if len(by_address) >= settings.login_attempts_per_address:
            until = by_address[-settings.login_attempts_per_address] + window
            return LoginThrottled(
                max(1, int((until - now).total_seconds() + 0.999)),
                by_address[-settings.login_attempts_per_address],
                scope="address",
            )
    return None


def login(
    store: Store,
    username: str,
    password: str,
    address: str,
    kind: str = "cookie",
    now: datetime | None = None,
) -> tuple[str, Principal]:
    """Check the password and open a session (``kind="cookie"``), a bearer token (``"bearer"``) or a
    command-line token (``"cli"``, from ``openlfr login``).

    Returns the token (to hand to the client once) and the principal. Raises :class:`LoginThrottled`
    when too many logins failed recently for this username from this address (or from this address for
    any username; see :func:`throttle`), and
    :class:`PermissionError` for a wrong username or password (the same message for both).
    """
    settings = store.settings.server
    now = now or utcnow()
    username = username.strip().lower()[:64]
    address = address[:64]
    throttled = throttle(store, username, address, now)
    if throttled is not None:
        raise throttled
    with store.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        ok = security.verify_password(user.password_hash if user else None, password)
        ok = ok and user is not None and user.active
        session.add(LoginAttempt(username=username, address=address, at=now, succeeded=ok))
        if ok and user is not None:
            if security.needs_rehash(user.password_hash):
                user.password_hash = security.hash_password(password)
            token = security.new_token()
            hours = {"cookie": settings.session_hours, "cli": settings.cli_token_hours}.get(
                kind, settings.token_hours
            )
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
