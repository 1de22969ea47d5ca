"""``/api/auth``: bearer tokens for API clients, who-am-I, logout; and the cookie helpers the pages use."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.api import users
from openlfr.api.deps import ALL_ROLES, SESSION_COOKIE, client_address, get_store, require_roles
from openlfr.api.users import LoginThrottled, Principal
from openlfr.governance import audit
from openlfr.store import Store
from openlfr.store.models import AuditEntry

router = APIRouter(prefix="/api/auth", tags=["auth"])


class TokenRequest(BaseModel):
    username: str = Field(..., max_length=64)
    password: str = Field(..., max_length=1024)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str
    expires_in_s: int


class Me(BaseModel):
    username: str
    display_name: str
    role: str


def do_login(store: Store, username: str, password: str, address: str, kind: str) -> tuple[str, Principal]:
    """Log in, auditing success and failure alike; HTTP errors for throttling and bad credentials."""
    try:
        token, principal = users.login(store, username, password, address, kind=kind)
    except LoginThrottled as exc:
        who = audit.Actor(username.strip().lower()[:64] or "?", "unauthenticated")
        with store.session() as s:
            # One row per throttling window, not one per refused attempt: refused attempts must not let
            # anyone grow the audit log without logging in.
            if not _throttle_audited(s, who.name, address[:64], exc):
                audit.record(
                    s,
                    who,
                    "auth.login_throttled",
                    target=address[:64],
                    details={
                        "address": address,
                        "scope": exc.scope,
                        "since": exc.since.isoformat() if exc.since else None,
                        "retry_after_s": exc.retry_after_s,
                    },
                )
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from None
    except PermissionError as exc:
        with store.session() as s:
            audit.record(
                s,
                audit.Actor(username.strip().lower()[:64] or "?", "unauthenticated"),
                "auth.login_failed",
                details={"address": address},
            )
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc)) from None
    with store.session() as s:
        audit.record(s, actor_of(principal), "auth.login", details={"address": address, "kind": kind})
    return token, principal


def _throttle_audited(session: Session, username: str, address: str, exc: LoginThrottled) -> bool:
    """Whether this throttling window (same address, and same user unless the whole address is locked)
    already has its audit row."""
    q = select(AuditEntry.seq).where(
        AuditEntry.action == "auth.login_throttled", AuditEntry.target == address
    )
    if exc.since is not None:
        q = q.where(AuditEntry.at >= exc.since)
    if exc.scope != "address":
        q = q.where(AuditEntry.actor == username)
    return session.scalars(q.limit(1)).first() is not None


def actor_of(principal: Principal) -> audit.Actor:
    return audit.Actor(principal.username, principal.role.value)


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    settings = request.app.state.settings.server
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
    )


@router.post("/token", response_model=TokenResponse, summary="Exchange a username and password for a token")
def token(body: TokenRequest, request: Request, store: Store = Depends(get_store)) -> TokenResponse:
    """Bearer token for API clients. Throttled per (user, address) with back-off, and per address: further
    attempts get 429 with ``Retry-After``."""
    access, principal = do_login(store, body.username, body.password, client_address(request), "bearer")
    return TokenResponse(
        access_token=access,
        role=principal.role.value,
        expires_in_s=int(store.settings.server.token_hours * 3600),
    )


@router.get("/me", response_model=Me, summary="Who the token or session belongs to")
def me(principal: Principal = Depends(require_roles(*ALL_ROLES))) -> Me:
    return Me(username=principal.username, display_name=principal.display_name, role=principal.role.value)


@router.post("/logout", status_code=204, summary="Revoke this token or session")
def logout(
    response: Response,
    principal: Principal = Depends(require_roles(*ALL_ROLES)),
    store: Store = Depends(get_store),
) -> Response:
    users.logout(store, principal.session_id)
    with store.session() as s:
        audit.record(s, actor_of(principal), "auth.logout")
    response.status_code = 204
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
