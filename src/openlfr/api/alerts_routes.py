"""``/api/alerts``: alert facts, their images (audited, two roles only) and the human decisions."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import MAX_SQL_INT, get_store, require_roles
from openlfr.api.users import Principal
from openlfr.api.views import alert_message, alert_messages_after
from openlfr.governance import alerts
from openlfr.governance.outcomes import OTHER_OFFENCES, OutcomeDetail
from openlfr.store import Store

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


def _doc(allowed: tuple[Any, ...], extra: str = "") -> str:
    return (extra + " " if extra else "") + "Roles: " + ", ".join(r.value for r in allowed) + "."


class Decision(BaseModel):
    decision: str = Field(..., max_length=32)
    note: str | None = Field(None, max_length=2000)
    reason_explained: bool | None = Field(
        None, description="Engagement that met the person: was the reason for the stop explained?"
    )
    leaflet_given: bool | None = Field(
        None, description="Engagement that met the person: was the leaflet given?"
    )
    # Issue 27: the disposal's outcome detail.
    use_of_force: bool | None = Field(None, description="Disposal: was force used?")
    arrest_for_watchlist_reason: bool | None = Field(
        None, description="Arrest: was it for the reason the person was on the watchlist?"
    )
    other_offences: list[str] = Field(
        default_factory=list,
        max_length=len(OTHER_OFFENCES),
        description="Arrest: other offences it was for, keys of: " + ", ".join(OTHER_OFFENCES) + ".",
    )
    custody_reference: str | None = Field(
        None, max_length=64, description="Custody or crime reference: encrypted, never published."
    )


class AmendIn(BaseModel):
    step: Literal["review", "engagement", "disposal"] = Field(..., description="The decision to amend.")
    decision: str = Field(..., max_length=32, description="What it should have been.")
    reason: str = Field(
        ..., min_length=1, max_length=2000, description="What was recorded in error, and why."
    )
    reason_explained: bool | None = Field(
        None, description="Amending to an engagement that met the person: was the reason explained?"
    )
    leaflet_given: bool | None = Field(
        None, description="Amending to an engagement that met the person: was the leaflet given?"
    )


class HoldIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000)


@router.get("", description=_doc(roles.VIEW_ALERTS, "Alerts oldest first; `after` = the last seq you saw."))
def list_alert_summaries(
    deployment_id: str | None = None,
    after: int = Query(0, ge=0, le=MAX_SQL_INT),
    limit: int = Query(500, ge=1, le=5000),
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_ALERTS)),
) -> list[dict[str, Any]]:
    return alert_messages_after(store, after, deployment_id, limit)


@router.get("/{alert_id}", description=_doc(roles.VIEW_ALERTS))
def get_alert(
    alert_id: str,
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_ALERTS)),
) -> dict[str, Any]:
    return alert_message(store, alerts.get_alert(store, alert_id))


@router.get(
    "/{alert_id}/images/{kind}",
    description=_doc(
        roles.VIEW_ALERT_IMAGES, "An image of the alert: probe crop, matched reference, or scene. Audited."
    ),
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
    response_class=Response,
)
def alert_image(
    alert_id: str,
    kind: Literal["probe", "candidate", "frame"],
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.VIEW_ALERT_IMAGES)),
) -> Response:
    data = alerts.alert_image(store, actor_of(principal), alert_id, kind)
    return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "no-store, private"})


def image_media_type(data: bytes) -> str:
    """The stored bytes are the camera's JPEG crops or the reference image as enrolled (often PNG)."""
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


@router.post("/{alert_id}/review", description=_doc(roles.OPERATOR_REVIEW, "`false_alert` or `engage`."))
def review(
    alert_id: str,
    body: Decision,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.OPERATOR_REVIEW)),
) -> dict[str, Any]:
    a = alerts.review_alert(store, actor_of(principal), alert_id, body.decision, note=body.note)
    return alert_message(store, a)


@router.post(
    "/{alert_id}/engagement",
    description=_doc(roles.ENGAGEMENT_OUTCOME, "`confirmed_true`, `confirmed_false` or `not_engaged`."),
)
def engagement(
    alert_id: str,
    body: Decision,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.ENGAGEMENT_OUTCOME)),
) -> dict[str, Any]:
    a = alerts.record_engagement(
        store,
        actor_of(principal),
        alert_id,
        body.decision,
        note=body.note,
        reason_explained=body.reason_explained,
        leaflet_given=body.leaflet_given,
    )
    return alert_message(store, a)


@router.post("/{alert_id}/disposal", description=_doc(roles.DISPOSAL, "`arrest`, `advice` or `no_action`."))
def disposal(
    alert_id: str,
    body: Decision,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.DISPOSAL)),
) -> dict[str, Any]:
    detail = OutcomeDetail(
        use_of_force=body.use_of_force,
        arrest_for_watchlist_reason=body.arrest_for_watchlist_reason,
        other_offences=tuple(body.other_offences),
        custody_reference=body.custody_reference,
    )
    a = alerts.record_disposal(
        store, actor_of(principal), alert_id, body.decision, note=body.note, detail=detail
    )
    return alert_message(store, a)


@router.post(
    "/{alert_id}/amend",
    description=_doc(
        roles.AMEND_DECISION,
        "Amend a decision recorded in error, with a reason: a new audited decision (the original stays in "
        "the audit log) counted in the published record.",
    ),
)
def amend(
    alert_id: str,
    body: AmendIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.AMEND_DECISION)),
) -> dict[str, Any]:
    a = alerts.amend_decision(
        store,
        actor_of(principal),
        alert_id,
        body.step,
        body.decision,
        body.reason,
        reason_explained=body.reason_explained,
        leaflet_given=body.leaflet_given,
    )
    return alert_message(store, a)


@router.post(
    "/{alert_id}/evidence",
    description=_doc(roles.EVIDENCE_HOLD, "Keep past retention until released or its review date."),
)
def hold(
    alert_id: str,
    body: HoldIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.EVIDENCE_HOLD)),
) -> dict[str, Any]:
    return alert_message(store, alerts.hold_as_evidence(store, actor_of(principal), alert_id, body.reason))


@router.post(
    "/{alert_id}/evidence/renew",
    description=_doc(
        roles.EVIDENCE_HOLD,
        "Renew an evidence hold to a new review date (default retention.evidence_review_days).",
    ),
)
def renew_hold(
    alert_id: str,
    body: HoldIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.EVIDENCE_HOLD)),
) -> dict[str, Any]:
    return alert_message(store, alerts.renew_evidence(store, actor_of(principal), alert_id, body.reason))
