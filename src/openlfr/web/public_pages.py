"""The public transparency pages (no login): what is planned, what happened, both accuracy measures.

Built only from :mod:`openlfr.api.public`'s allow-listed view: no image, template, watchlist entry or alert
detail is ever shown or linked. Rate-limited and cacheable like the feeds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from openlfr.api.deps import get_store
from openlfr.api.public import public_deployment, public_listing, rate_limited, yearly_totals
from openlfr.api.public_rights import privacy_info
from openlfr.governance import deployments, retention_promise
from openlfr.store import Store
from openlfr.web.render import page

router = APIRouter(include_in_schema=False)


def _cacheable(request: Request, response: Response) -> Response:
    response.headers["Cache-Control"] = (
        f"public, max-age={request.app.state.settings.server.public_cache_seconds}"
    )
    return response


def _context(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    s = settings.server
    rs = settings.retro
    return {
        "force_name": s.force_name,
        "contact": s.contact,
        "principal": None,
        "privacy": privacy_info(request.app.state.settings),
        "retro_uses": {"rfr": rs.rfr_enabled, "oifr": rs.oifr_enabled},
        "regulator": s.regulator_complaint_route,
        "notice_period": hours_in_words(settings.governance.notice_hours),
        "retention_period": hours_in_words(settings.retention.alert_retention_hours),
    }


def hours_in_words(hours: float) -> str:
    """A period as the public reads it: "30 days", "24 hours", "90 minutes"."""
    if hours >= 48 and hours % 24 == 0:
        return f"{int(hours // 24)} days"
    if hours >= 1 and hours == int(hours):
        return f"{int(hours)} hour{'s' if hours != 1 else ''}"
    return f"{round(hours * 60)} minutes"


def notice_given(d: dict[str, Any]) -> str:
    """How long before its window the deployment was announced, in words ("26 hours before it was due to
    start", or "after it was due to start")."""
    ahead = (
        datetime.fromisoformat(d["starts_at"]) - datetime.fromisoformat(d["announced_at"])
    ).total_seconds()
    if ahead <= 0:
        return "after it was due to start"
    return f"{hours_in_words(round(ahead / 3600, 1) if ahead < 3600 else round(ahead / 3600))} before it was due to start"


@router.get("/public", response_class=HTMLResponse, dependencies=[Depends(rate_limited)])
def public_index(request: Request, store: Store = Depends(get_store)) -> Response:
    listing = public_listing(store)
    return _cacheable(request, page(request, "public.html", listing=listing, **_context(request)))


@router.get("/public/totals", response_class=HTMLResponse, dependencies=[Depends(rate_limited)])
def public_totals(request: Request, year: int | None = None, store: Store = Depends(get_store)) -> Response:
    """The yearly totals a force publishes (issue 15 §8)."""
    totals = yearly_totals(store, year or datetime.now(UTC).year)
    return _cacheable(request, page(request, "public_totals.html", t=totals, **_context(request)))


@router.get(
    "/public/deployments/{deployment_id}", response_class=HTMLResponse, dependencies=[Depends(rate_limited)]
)
def public_deployment_page(
    deployment_id: str, request: Request, store: Store = Depends(get_store)
) -> Response:
    dep = deployments.get_deployment(store, deployment_id)
    view = public_deployment(store, dep)
    context = _context(request)
    # Issue 25: the period promised when it opened, which the purge keeps; before it opens, today's setting.
    promise = retention_promise.retention_promise_of(store, deployment_id)
    if promise is not None:
        context["retention_period"] = hours_in_words(promise.alert_retention_hours)
    context["retention_fixed"] = promise is not None
    return _cacheable(
        request,
        page(request, "public_deployment.html", d=view, notice=notice_given(view), **context),
    )
