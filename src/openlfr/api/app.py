"""The FastAPI application: ``create_app(settings)``.

One process serves the API (documented at ``/docs`` and ``/openapi.json``), pushes alerts to consoles
over WebSocket, sends the signed webhook, and runs background duties: the live pipeline for open
deployments whose cameras have sources configured, and the scheduled purge. The pages (``openlfr.web``)
are added on top by :func:`openlfr.web.app.create_server_app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from openlfr import __version__
from openlfr.config import Settings
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
    from openlfr.api import alerts_routes, alerts_stream, auth, public, retro_routes, routes
    from openlfr.api.broker import AlertBroker
    from openlfr.api.duties import default_duties

    the_store = store or open_store(settings)
    duties = list(background) if background is not None else default_duties(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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
    app.include_router(retro_routes.router)
    for router in extra_routers:
        app.include_router(router)
    return app
