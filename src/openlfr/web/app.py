"""The whole server: the API plus the pages, static files and security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException as FastAPIHTTPException
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from openlfr.api.app import BackgroundDuty, create_app
from openlfr.config import Settings
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.store import Store
from openlfr.web import console, pages, public_pages, retro_pages, rights_pages, watchlist_pages
from openlfr.web.pages import LoginRequired, login_redirect
from openlfr.web.render import STATIC_DIR, page

# Pages use no inline script: the console's one script is a static file, so the policy can forbid the rest.
CSP = (
    "default-src 'self'; img-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
_TITLES = {
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    409: "Not done",
    429: "Too many requests",
}


def _wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API, not a client that asked for JSON)."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, detail: str) -> Response:
    """An error as a page: a title, plain words first, the detail after, and a way back (error.html)."""
    if status == 404 and detail in ("Not Found", ""):
        detail = "We could not find that page. Check the address, or go back."
    elif status == 404:
        detail = f"We could not find that page: {detail}."
    return page(
        request,
        "error.html",
        status_code=status,
        title=_TITLES.get(status, "Error"),
        message=detail,
    )


def create_server_app(
    settings: Settings, *, store: Store | None = None, background: Sequence[BackgroundDuty] | None = None
) -> FastAPI:
    """``openlfr serve``'s application."""
    app = create_app(
        settings,
        store=store,
        extra_routers=[
            pages.router,
            console.router,
            public_pages.router,
            rights_pages.router,
            watchlist_pages.router,
            retro_pages.router,
        ],
        background=background,
    )
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.url.path.startswith(
            (
                "/api/alerts",
                "/alerts",
                "/console",
                "/deployments",
                "/audit",
                "/admin",
                "/watchlists",
                "/api/deployments",
                "/oifr",
                "/retro",
                "/api/retro",
                "/api/oifr",
                "/api/gallery",
            )
        ):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.exception_handler(LoginRequired)
    async def needs_login(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # The API answers JSON; a person in a browser gets a page.
        if not _wants_html(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return _error_page(request, 404, str(exc))

    @app.exception_handler(GovernanceError)
    async def refused(request: Request, exc: GovernanceError) -> Response:
        if not _wants_html(request):
            return JSONResponse({"detail": str(exc)}, status_code=409)
        return _error_page(request, 409, str(exc))

    _ = FastAPIHTTPException
    return app
