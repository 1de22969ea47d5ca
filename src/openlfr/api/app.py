"""The FastAPI application: ``create_app(settings)``.

One process serves the API (documented at ``/docs`` and ``/openapi.json``), pushes alerts to consoles
over WebSocket, sends the signed webhook, and runs background duties: the live pipeline for open
deployments whose cameras have sources configured, and the scheduled purge. The pages (``openlfr.web``)
are added on top by :func:`openlfr.web.app.create_server_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response

from openlfr import __version__
from openlfr.api.request_guard import RequestGuard
from openlfr.config import Settings
from openlfr.errors import OpenLFRError
from openlfr.governance.blob_sweep import sweep_blobs
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.store import Store, open_store

log = logging.getLogger(__name__)

BackgroundDuty = Callable[[FastAPI], Any]
"""A coroutine function started with the app and cancelled when it stops (purge, live runner, ...)."""


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    extra_routers: Sequence[APIRouter] = (),
    background: Sequence[BackgroundDuty] | None = None,
) -> FastAPI:
    """Build the application for ``settings``.

    ``store``: an already open store (tests); otherwise the store is opened (and migrated) here.
    ``extra_routers``: added after the API's own routers (the web layer's pages).
    ``background``: the duties to run; default: the broker and webhook always, the live runner and the
    purge when ``settings.server.run_live`` / ``run_purge`` say so.
    """
    from openlfr.api import (
        alerts_routes,
        alerts_stream,
        auth,
        bus_service,
        public,
        retro_routes,
        rights_routes,
        routes,
        security,
        watchlist_routes,
    )
    from openlfr.api.broker import AlertBroker
    from openlfr.api.duties import default_duties

    security.warm_up()  # logins for unknown users cost the same from the first one on
    the_store = store or open_store(settings)
    duties = list(background) if background is not None else default_duties(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What a killed process left in the blob folder (audited when there was any).
        await asyncio.to_thread(sweep_blobs, the_store, trigger="start")
        await app.state.broker.start()
        tasks = [asyncio.create_task(duty(app), name=getattr(duty, "__name__", "duty")) for duty in duties]
        try:
            yield
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await app.state.broker.stop()
            if store is None:
                the_store.close()

    app = FastAPI(
        # /docs is served below from the swagger-ui-bundle package's files (no CDN), or not at all.
        docs_url=None,
        redoc_url=None,
        title="openlfr",
        version=__version__,
        description=(
            "Live facial recognition with the safeguards built in. Every endpoint names the roles it "
            "allows; biometric images are served only to the operator and engagement officer, and every "
            "view is audited. Authenticate with `POST /api/auth/token` and send `Authorization: Bearer`."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = the_store
    app.state.broker = AlertBroker(the_store)
    app.state.live_metrics = {}

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(GovernanceError)
    async def refused(_request: Request, exc: GovernanceError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> Response:
        return validation_error_response(exc)

    # The body limit and strict JSON apply before any route or later middleware reads a body.
    app.add_middleware(
        RequestGuard,
        max_bytes=settings.server.max_request_bytes,
        max_json_bytes=settings.server.max_json_bytes,
    )

    @app.middleware("http")  # added after the guard, so it wraps it: its 413s and 422s get the header too
    async def transport_security(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if settings.server.hsts_seconds:
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={settings.server.hsts_seconds}; includeSubDomains"
            )
        return response

    add_docs(app)

    @app.exception_handler(OpenLFRError)
    async def cannot(_request: Request, exc: OpenLFRError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not a problem with the request: the traceback goes to the log, and the caller is told
        # so rather than given the exception's message as if it described their input.
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return JSONResponse(
            {
                "detail": "internal error: a bug in openlfr, not a problem with the request (see the server log)"
            },
            status_code=500,
        )

    @app.get("/healthz", tags=["service"], summary="Liveness: the process answers and the database opens")
    def healthz() -> dict[str, str]:
        with the_store.session() as s:
            s.connection()
        return {"status": "ok", "version": __version__}

    app.include_router(auth.router)
    app.include_router(routes.router)
    app.include_router(alerts_routes.router)
    app.include_router(alerts_stream.router)
    app.include_router(public.router)
    app.include_router(watchlist_routes.router)
    app.include_router(rights_routes.router)
    app.include_router(bus_service.router)
    app.include_router(retro_routes.router)
    for router in extra_routers:
        app.include_router(router)
    return app


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` made into something ``json.dumps(allow_nan=False)`` and UTF-8 can always carry."""
    if depth > 8:
        return "..."
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value[:500].encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes | bytearray):
        return repr(bytes(value[:200]))
    if isinstance(value, dict):
        return {str(_json_safe(k, depth + 1)): _json_safe(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v, depth + 1) for v in list(value)[:50]]
    return _json_safe(repr(value), depth + 1)


def validation_error_response(exc: RequestValidationError) -> Response:
    """FastAPI's 422 body (``{"detail": [{type, loc, msg, input}, ...]}``), built so that it cannot fail:
    the default handler's encoder raised on bytes that are not UTF-8, NaN and lone surrogates, turning a
    refusal into a 500."""
    try:
        detail = [
            {k: _json_safe(err.get(k)) for k in ("type", "loc", "msg", "input") if k in err}
            for err in exc.errors()
        ]
        body = json.dumps({"detail": detail}, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except Exception:  # the last resort must not raise either
        body = b'{"detail":[{"type":"invalid","loc":["request"],"msg":"the request is not valid"}]}'
    return Response(body, status_code=422, media_type="application/json")


def add_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the ``swagger-ui-bundle`` package's files, started by a script served
    from here too, so the page loads nothing from outside and passes a ``script-src 'self'`` policy.
    Without the package, ``/docs`` is off (``/openapi.json`` stays)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # pragma: no cover - the package is a declared dependency
        return
    from fastapi.staticfiles import StaticFiles

    assets = Path(str(swagger_ui_path))
    if not (assets / "swagger-ui-bundle.js").is_file():  # pragma: no cover
        return
    app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_HTML)

    @app.get("/docs/start.js", include_in_schema=False)
    def docs_start() -> Response:
        return Response(_DOCS_JS, media_type="text/javascript")


_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>openlfr API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body></html>
"""
_DOCS_JS = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
"""
