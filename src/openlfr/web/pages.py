"""Login, logout and the pages' role check (the other pages live in their own modules)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openlfr.api import security
from openlfr.api.auth import do_login, set_session_cookie
from openlfr.api.deps import LOGIN_CSRF_COOKIE, check_csrf, client_address, get_store, principal_from
from openlfr.api.users import Principal, logout
from openlfr.governance import audit
from openlfr.store.auth_models import Role
from openlfr.web.render import page

router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def page_roles(*roles: Role) -> Callable[[Request], Coroutine[Any, Any, Principal]]:
    """Like :func:`openlfr.api.deps.require_roles` for pages: redirect to log in, 403 page otherwise."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        principal = principal_from(request)
        if principal is None or not principal.via_cookie:
            raise LoginRequired(str(request.url.path))
        request.state.principal = principal
        if principal.role not in allowed:
            raise HTTPException(403, f"The {principal.role.label} role cannot open this page.")
        await check_csrf(request, principal)
        return principal

    return dependency


def home_for(role: Role) -> str:
    if role in (Role.OPERATOR, Role.ENGAGEMENT_OFFICER, Role.AUTHORISING_OFFICER):
        return "/console"
    if role == Role.ADMIN:
        return "/admin/users"
    if role == Role.AUDITOR:
        return "/audit"
    if role == Role.REVIEWER:
        return "/watchlists"
    return "/public"


def _safe_next(value: str | None) -> str | None:
    # Only local paths: an open redirect would let a phishing link bounce through the login page.
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


def _login_page(
    request: Request, error: str | None = None, next_url: str = "", status: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or security.new_token()
    response = page(
        request,
        "login.html",
        status_code=status,
        error=error,
        login_csrf=token,
        next=next_url,
        principal=None,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.server.secure_cookies,
        path="/login",
    )
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    principal = principal_from(request)
    return RedirectResponse(home_for(principal.role) if principal else "/public", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> Response:
    return _login_page(request, next_url=_safe_next(next) or "")


@router.post("/login", response_class=HTMLResponse)
def login_submit(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=1024),
    csrf_token: str = Form(""),
    next: str = Form(""),
) -> Response:
    # Login CSRF: the form's token must match the cookie set with the form (double submit).
    if not security.same(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(request, "The form expired. Please try again.", status=403)
    store = get_store(request)
    try:
        token, principal = do_login(store, username, password, client_address(request), "cookie")
    except HTTPException as exc:
        return _login_page(request, str(exc.detail), next_url=_safe_next(next) or "", status=exc.status_code)
    response = RedirectResponse(_safe_next(next) or home_for(principal.role), status_code=303)
    set_session_cookie(response, request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    principal = principal_from(request)
    if principal is not None and principal.via_cookie:
        await check_csrf(request, principal)
        store = get_store(request)
        logout(store, principal.session_id)
        with store.session() as s:
            audit.record(s, audit.Actor(principal.username, principal.role.value), "auth.logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie("openlfr_session", path="/")
    return response


def login_redirect(exc: LoginRequired) -> Response:
    return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)
