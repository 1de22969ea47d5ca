"""Request dependencies: the store, who is asking, and the role check every endpoint declares.

Browsers authenticate with the session cookie (HttpOnly, SameSite=Strict, Secure unless turned off for
plain-HTTP tests) and must send the session's CSRF token with every state-changing request (form field
``csrf_token`` or header ``X-CSRF-Token``). API clients send ``Authorization: Bearer <token>``; a bearer
token is never sent by a browser on its own, so it needs no CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.security import HTTPBearer

from openlfr.api import security
from openlfr.api.users import Principal, resolve
from openlfr.store import Store
from openlfr.store.auth_models import Role

SESSION_COOKIE = "openlfr_session"
LOGIN_CSRF_COOKIE = "openlfr_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_SQL_INT = 2**63 - 1
"""Upper bound of every integer query parameter: SQLite and PostgreSQL integers are signed 64-bit, and a
larger value would overflow in the driver (a 500) rather than be refused (a 422)."""

# Declared so OpenAPI documents the scheme; the dependency below does the checking itself, because a
# request may authenticate by cookie instead.
bearer_scheme = HTTPBearer(auto_error=False, description="API token from POST /api/auth/token")


def get_store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class NotAuthenticated(HTTPException):
    def __init__(self) -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, "log in first", headers={"WWW-Authenticate": "Bearer"})


def principal_from(request: Request) -> Principal | None:
    """The authenticated principal of a request (bearer token first, then cookie), or None."""
    store = get_store(request)
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return resolve(store, header[7:].strip(), "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return resolve(store, cookie, "cookie")
    return None


async def check_csrf(request: Request, principal: Principal) -> None:
    """Refuse a state-changing cookie-authenticated request without the session's CSRF token."""
    if not principal.via_cookie or request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not security.same(sent, principal.csrf_token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")


def require_roles(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """A dependency allowing only ``roles``: 401 when not logged in, 403 for any other role."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = principal_from(request)
        if principal is None:
            raise NotAuthenticated()
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"the {principal.role.label} role may not do this "
                f"(allowed: {', '.join(sorted(r.label for r in allowed))})",
            )
        await check_csrf(request, principal)
        request.state.principal = principal
        return principal

    dependency.allowed_roles = allowed  # type: ignore[attr-defined]  # read by the role-table tests
    return dependency


ALL_ROLES = tuple(Role)
