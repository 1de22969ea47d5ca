"""Officer console, alert adjudication, supervisor page, audit log and user admin pages."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store
from openlfr.api.public import measures_for
from openlfr.api.routes import watchlist_summary
from openlfr.api.status import camera_counters
from openlfr.api.users import Principal
from openlfr.api.views import alert_message, alert_messages_after
from openlfr.governance import alerts, audit, deployment_closing, deployments
from openlfr.governance.bus import BUS_DOWN
from openlfr.governance.errors import GovernanceError
from openlfr.governance.outcomes import OTHER_OFFENCES, OutcomeDetail
from openlfr.store import Store
from openlfr.web.pages import page_roles
from openlfr.web.render import page
from openlfr.web.sentences import AUDIT_AREAS, audit_page_rows, sentence

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


DECISIONS: dict[str, dict[str, str]] = {
    "review": {"false_alert": "False alert", "engage": "Pass to engagement"},
    "engagement": {
        "confirmed_true": "Confirmed: it is the person",
        "confirmed_false": "Confirmed: not the person",
        "not_engaged": "Not engaged",
    },
    "disposal": {"arrest": "Arrest", "advice": "Words of advice", "no_action": "No action"},
}
"""What each decision is called on the page: the choice button, the confirm page and the sentences."""
STEP_NAMES = {"review": "operator review", "engagement": "engagement outcome", "disposal": "disposal"}
_STEP_ROLES = {
    "review": roles.OPERATOR_REVIEW,
    "engagement": roles.ENGAGEMENT_OUTCOME,
    "disposal": roles.DISPOSAL,
    "amend": roles.AMEND_DECISION,
}
_RECORD = {
    "review": alerts.review_alert,
    "engagement": alerts.record_engagement,
    "disposal": alerts.record_disposal,
}


def _amendable(a: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(step, current value, other value) for each decision the supervisor could amend, keeping the
    alert coherent with its later decisions (governance refuses the rest, with the reason)."""
    out = []
    for step, values in DECISIONS.items():
        current = a[step]
        if current is None:
            continue
        for value in values:
            if value == current:
                continue
            if step == "review" and value == "false_alert" and a["engagement"] is not None:
                continue
            if step == "engagement" and value not in alerts.MET and a["disposal"] is not None:
                continue
            out.append((step, current, value))
    return out


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_ALERTS)),
) -> Response:
    return _alert_page(request, store, principal, alert_id)


def _alert_page(
    request: Request, store: Store, principal: Principal, alert_id: str, status_code: int = 200
) -> Response:
    a = alert_message(store, alerts.get_alert(store, alert_id))
    trail = audit.entries(store, deployment_id=a["deployment_id"], action="alert.*")
    trail = [e for e in trail if e.target == alert_id and e.action != "alert.image_read"]
    return page(
        request,
        "alert.html",
        status_code=status_code,
        alert=a,
        trail=[sentence(e) for e in trail],
        decisions=DECISIONS,
        show_images=principal.role in roles.VIEW_ALERT_IMAGES and a["has_images"],
        can_review=principal.role in roles.OPERATOR_REVIEW and a["review"] is None,
        can_engage=principal.role in roles.ENGAGEMENT_OUTCOME
        and a["review"] == "engage"
        and a["engagement"] is None,
        can_dispose=principal.role in roles.DISPOSAL
        and a["engagement"] in alerts.MET
        and a["disposal"] is None,
        amendable=_amendable(a) if principal.role in roles.AMEND_DECISION else [],
        step_names=STEP_NAMES,
        other_offences=OTHER_OFFENCES,
    )


def _confirm_page(
    request: Request,
    store: Store,
    alert_id: str,
    step: str,
    decision: str,
    *,
    amend_step: str = "",
    note: str = "",
    facts: dict[str, str] | None = None,
    errors: list[tuple[str, str]] | None = None,
) -> Response:
    """The second, distinct step of every decision (GOV.UK "check answers" then confirm): it names what will
    be recorded, asks for what that decision needs, and records nothing itself."""
    a = alert_message(store, alerts.get_alert(store, alert_id))
    labels = DECISIONS[amend_step or step]
    if decision not in labels:
        return _alert_page(request, store, request.state.principal, alert_id, 400)
    value_step = amend_step or step
    current = a[value_step] if step == "amend" else None
    needs_facts = (
        value_step == "engagement"
        and decision in alerts.MET
        and (step != "amend" or current not in alerts.MET)
    )
    return page(
        request,
        "decide.html",
        status_code=400 if errors else 200,
        alert=a,
        step=step,
        amend_step=amend_step,
        step_name=STEP_NAMES[value_step],
        decision=decision,
        label=labels[decision],
        current_label=labels.get(current or "", ""),
        needs_facts=needs_facts,
        note=note,
        facts=facts or {},
        errors=errors or [],
        other_offences=OTHER_OFFENCES,
    )


def _check_role(principal: Principal, step: str) -> None:
    if principal.role not in _STEP_ROLES[step]:
        raise HTTPException(403, f"The {principal.role.label} role cannot record this decision.")


@router.post("/alerts/{alert_id}/{step}/check", response_class=HTMLResponse)
def check_decision(
    alert_id: str,
    step: Literal["review", "engagement", "disposal", "amend"],
    request: Request,
    decision: str = Form(""),
    amend_step: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_ALERTS)),
) -> Response:
    """The choice was made (a button naming it): show what will be recorded, and record nothing yet."""
    _check_role(principal, step)
    if step == "amend" and amend_step not in DECISIONS:
        return _alert_page(request, store, principal, alert_id, 400)
    return _confirm_page(
        request, store, alert_id, step, decision, amend_step=amend_step if step == "amend" else ""
    )


def _record(
    request: Request,
    store: Store,
    principal: Principal,
    alert_id: str,
    step: str,
    decision: str,
    note: str,
    *,
    amend_step: str = "",
    facts: dict[str, str] | None = None,
    detail: OutcomeDetail | None = None,
) -> Response:
    facts = facts or {}
    flags = {k: _yes_no(v) for k, v in facts.items()}
    try:
        if step == "amend":
            alerts.amend_decision(
                store,
                actor_of(principal),
                alert_id,
                amend_step,
                decision,
                note,
                reason_explained=flags.get("reason_explained"),
                leaflet_given=flags.get("leaflet_given"),
            )
        else:
            extra: dict[str, Any] = {"detail": detail} if step == "disposal" else {}
            _RECORD[step](
                store, actor_of(principal), alert_id, decision, note=note.strip() or None, **flags, **extra
            )  # type: ignore[operator]
    except GovernanceError as exc:
        if (amend_step or step) in DECISIONS and decision in DECISIONS[amend_step or step]:
            # Back to the confirm page, what was typed kept, the problem said at the top (GOV.UK error summary).
            return _confirm_page(
                request,
                store,
                alert_id,
                step,
                decision,
                amend_step=amend_step,
                note=note,
                facts=facts,
                errors=[("decision-form", str(exc))],
            )
        return page(
            request,
            "error.html",
            status_code=409,
            title="Not recorded",
            message=str(exc),
            back=f"/alerts/{alert_id}",
        )
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
    return _record(request, store, principal, alert_id, "review", decision, note)


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
    facts = {"reason_explained": reason_explained, "leaflet_given": leaflet_given}
    if decision == "not_engaged":
        facts = {}
    return _record(request, store, principal, alert_id, "engagement", decision, note, facts=facts)


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
    detail = OutcomeDetail(  # issue 27: the confirm page's _outcome_detail.html partial
        use_of_force=_yes_no(use_of_force),
        arrest_for_watchlist_reason=_yes_no(arrest_for_watchlist_reason),
        other_offences=tuple(other_offences),
        custody_reference=custody_reference,
    )
    return _record(request, store, principal, alert_id, "disposal", decision, note, detail=detail)


@router.post("/alerts/{alert_id}/amend")
def amend_form(
    alert_id: str,
    request: Request,
    amend_step: str = Form(...),
    decision: str = Form(...),
    reason: str = Form(""),
    reason_explained: str = Form(""),
    leaflet_given: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.AMEND_DECISION)),
) -> Response:
    """A supervisor's amendment of a decision recorded in error: a new audited decision, with a reason."""
    facts = {k: v for k, v in (("reason_explained", reason_explained), ("leaflet_given", leaflet_given)) if v}
    return _record(
        request, store, principal, alert_id, "amend", decision, reason, amend_step=amend_step, facts=facts
    )


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


@router.post("/deployments/{deployment_id}/close/check", response_class=HTMLResponse)
def close_check(
    deployment_id: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.CLOSE_DEPLOYMENT)),
) -> Response:
    """Closing destroys the watchlist: a distinct confirm page says so, and asks for the reason there."""
    dep = deployments.get_deployment(store, deployment_id)
    return page(request, "close.html", dep=dep)


@router.post("/deployments/{deployment_id}/close")
def close_form(
    deployment_id: str,
    request: Request,
    reason: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.CLOSE_DEPLOYMENT)),
) -> Response:
    try:
        deployment_closing.close_deployment(
            store, actor_of(principal), deployment_id, reason=reason.strip() or None
        )
    except GovernanceError as exc:
        return page(
            request,
            "error.html",
            status_code=409,
            title="Not closed",
            message=str(exc),
            back=f"/deployments/{deployment_id}",
        )
    return RedirectResponse(f"/deployments/{deployment_id}", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    deployment_id: str = Query("", max_length=64),
    area: str = Query("", max_length=32),
    actor: str = Query("", max_length=64),
    page_no: int = Query(1, ge=1, le=1_000_000, alias="page"),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_AUDIT)),
) -> Response:
    """The audit log as sentences, newest first, 50 to a page, filtered by deployment, area and who."""
    result = audit_page_rows(
        store,
        deployment_id=deployment_id.strip(),
        area=area,
        actor=actor.strip(),
        page=page_no,
        role=principal.role,
    )
    filters = {"deployment_id": deployment_id.strip(), "area": area, "actor": actor.strip()}
    return page(
        request, "audit.html", result=result, filters=filters, areas=AUDIT_AREAS, deployment_id=deployment_id
    )


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.MANAGE_USERS)),
) -> Response:
    from openlfr.api.users import list_users

    return page(request, "users.html", users=list_users(store))
