"""Officer console, alert adjudication, supervisor page, audit log and user admin pages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store
from openlfr.api.public import measures_for
from openlfr.api.routes import watchlist_summary
from openlfr.api.status import camera_counters
from openlfr.api.users import Principal
from openlfr.api.views import alert_message, alert_messages_after
from openlfr.governance import alerts, audit, deployments
from openlfr.governance.bus import BUS_DOWN
from openlfr.governance.errors import GovernanceError
from openlfr.governance.outcomes import OTHER_OFFENCES, OutcomeDetail
from openlfr.store import Store
from openlfr.web.pages import page_roles
from openlfr.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/console", response_class=HTMLResponse)
def console(
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.RECEIVE_ALERTS)),
) -> Response:
    open_deps = deployments.list_deployments(store, "open")
    recent = alert_messages_after(store, 0, None, 5000)[-50:][::-1]
    last_seq = max((a["seq"] for a in recent), default=0)
    return page(request, "console.html", deployments=open_deps, alerts=recent, last_seq=last_seq)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_ALERTS)),
) -> Response:
    a = alert_message(store, alerts.get_alert(store, alert_id))
    trail = audit.entries(store, deployment_id=a["deployment_id"], action="alert.*")
    trail = [e for e in trail if e.target == alert_id and e.action != "alert.image_read"]
    return page(
        request,
        "alert.html",
        alert=a,
        trail=trail,
        show_images=principal.role in roles.VIEW_ALERT_IMAGES and a["has_images"],
        can_review=principal.role in roles.OPERATOR_REVIEW and a["review"] is None,
        can_engage=principal.role in roles.ENGAGEMENT_OUTCOME
        and a["review"] == "engage"
        and a["engagement"] is None,
        can_dispose=principal.role in roles.DISPOSAL
        and a["engagement"] in ("confirmed_true", "confirmed_false")
        and a["disposal"] is None,
        error=request.query_params.get("error"),
        other_offences=OTHER_OFFENCES,
    )


def _decide(
    request: Request,
    store: Store,
    principal: Principal,
    alert_id: str,
    step: str,
    value: str,
    note: str,
    **facts: bool | OutcomeDetail | None,
) -> Response:
    fn = {
        "review": alerts.review_alert,
        "engagement": alerts.record_engagement,
        "disposal": alerts.record_disposal,
    }[step]
    try:
        fn(store, actor_of(principal), alert_id, value, note=note.strip() or None, **facts)  # type: ignore[operator]
    except GovernanceError as exc:
        return page(request, "error.html", status_code=409, title="Not recorded", message=str(exc))
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/review")
def review_form(
    alert_id: str,
    request: Request,
    decision: str = Form(...),
    note: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.OPERATOR_REVIEW)),
) -> Response:
    return _decide(request, store, principal, alert_id, "review", decision, note)


@router.post("/alerts/{alert_id}/engagement")
def engagement_form(
    alert_id: str,
    request: Request,
    decision: str = Form(...),
    note: str = Form(""),
    reason_explained: str = Form(""),
    leaflet_given: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.ENGAGEMENT_OUTCOME)),
) -> Response:
    facts = {"reason_explained": _yes_no(reason_explained), "leaflet_given": _yes_no(leaflet_given)}
    if decision == "not_engaged":
        facts = {}
    return _decide(request, store, principal, alert_id, "engagement", decision, note, **facts)


def _yes_no(value: str) -> bool | None:
    """A form's yes/no radio: unanswered is None (refused by governance when the person was met)."""
    return {"yes": True, "no": False}.get(value.strip().lower())


@router.post("/alerts/{alert_id}/disposal")
def disposal_form(
    alert_id: str,
    request: Request,
    decision: str = Form(...),
    note: str = Form(""),
    use_of_force: str = Form(""),
    arrest_for_watchlist_reason: str = Form(""),
    other_offences: list[str] = Form([]),
    custody_reference: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.DISPOSAL)),
) -> Response:
    detail = OutcomeDetail(  # issue 27: the form's _outcome_detail.html partial
        use_of_force=_yes_no(use_of_force),
        arrest_for_watchlist_reason=_yes_no(arrest_for_watchlist_reason),
        other_offences=tuple(other_offences),
        custody_reference=custody_reference,
    )
    return _decide(request, store, principal, alert_id, "disposal", decision, note, detail=detail)


@router.get("/deployments", response_class=HTMLResponse)
def deployments_page(
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_RECORD)),
) -> Response:
    return page(request, "deployments.html", deployments=deployments.list_deployments(store)[::-1])


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse)
def supervisor_page(
    deployment_id: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_RECORD)),
) -> Response:
    dep = deployments.get_deployment(store, deployment_id)
    live = request.app.state.live_metrics.get(deployment_id)
    metrics = {m.camera_id: m.snapshot() for m in live.metrics} if live is not None else {}
    counters = {c["camera_id"]: c for c in camera_counters(store, deployment_id)}
    cameras = [{"camera_id": c, "stored": counters.get(c), "live": metrics.get(c)} for c in dep.cameras]
    # The page obeys the same role table as the API: a role the API refuses the watchlist summary or the
    # alerts gets neither here (None: the template says so instead of showing them).
    may_see_watchlist = principal.role in roles.VIEW_WATCHLIST_SUMMARY
    summary = (
        watchlist_summary(store, deployment_id) if dep.status != "closed" and may_see_watchlist else None
    )
    dep_alerts = (
        alert_messages_after(store, 0, deployment_id, 5000)[::-1]
        if principal.role in roles.VIEW_ALERTS
        else None
    )
    bus_workers, bus_lag = _bus_health(request, deployment_id)
    return page(
        request,
        "supervisor.html",
        dep=dep,
        cameras=cameras,
        watchlist=summary,
        alerts=dep_alerts,
        record=measures_for(store, dep),
        can_close=principal.role in roles.CLOSE_DEPLOYMENT and dep.status != "closed",
        may_see_watchlist=may_see_watchlist,
        bus_workers=bus_workers,
        bus_lag=bus_lag,
    )


def _bus_health(request: Request, deployment_id: str) -> tuple[list[Any] | None, dict[str, int]]:
    """The deployment's camera workers and the streams' lag, when the bus runs here (else ``None``)."""
    consumer = getattr(request.app.state, "bus_consumer", None)
    if consumer is None:
        return None, {}
    try:
        return [w for w in consumer.workers() if w.deployment_id == deployment_id], consumer.pending()
    except BUS_DOWN:
        return [], {"unreachable": 1}


@router.post("/deployments/{deployment_id}/close")
def close_form(
    deployment_id: str,
    request: Request,
    reason: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.CLOSE_DEPLOYMENT)),
) -> Response:
    try:
        deployments.close_deployment(store, actor_of(principal), deployment_id, reason=reason.strip() or None)
    except GovernanceError as exc:
        return page(request, "error.html", status_code=409, title="Not closed", message=str(exc))
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    deployment_id: str | None = None,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_AUDIT)),
) -> Response:
    from openlfr.api.audit_view import visible_rows

    # Issue 25: a role that may not see alerts reads the log with alert details redacted.
    rows = visible_rows(
        audit.entries(store, deployment_id=deployment_id or None, last=500)[::-1], principal.role
    )
    return page(request, "audit.html", rows=rows, deployment_id=deployment_id or "")


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.MANAGE_USERS)),
) -> Response:
    from openlfr.api.users import list_users

    return page(request, "users.html", users=list_users(store))
