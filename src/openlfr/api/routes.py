"""The API over the governance layer: deployments, watchlist summary, users, audit.

Every endpoint depends on :func:`openlfr.api.deps.require_roles` with a tuple from
:mod:`openlfr.api.roles`; the OpenAPI description of each names the roles it allows.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field

from openlfr.api import audit_view, roles, users
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store, require_roles
from openlfr.api.users import Principal
from openlfr.governance import audit, deployment_closing, deployment_opening, deployment_planning, deployments
from openlfr.governance.watchlist_approval import pending_entries
from openlfr.governance.watchlists import list_subjects
from openlfr.store import Store
from openlfr.store.models import DEPLOYMENT_PURPOSE_CATEGORIES, WATCHLIST_CATEGORIES

router = APIRouter(prefix="/api")


def _roles_doc(allowed: tuple[Any, ...]) -> str:
    return "Roles: " + ", ".join(r.value for r in allowed) + "."


class DeploymentIn(BaseModel):
    purpose: str = Field(..., min_length=1, max_length=2000)
    purpose_category: str = Field(
        ...,
        min_length=1,
        max_length=200,
        description="One of: "
        + "; ".join(f"{k} ({v})" for k, v in DEPLOYMENT_PURPOSE_CATEGORIES.items())
        + " (the key or the words). Published.",
    )
    legal_basis: str = Field(
        ..., min_length=1, max_length=2000, description="Short summary of the legal basis. Published."
    )
    location: str = Field(..., min_length=1, max_length=500)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    authorising_officer: str | None = Field(
        None,
        max_length=200,
        description="Proposed authorising officer's name (internal). Whoever opens the deployment "
        "authorises it; their name and rank from the user table replace the proposal.",
    )
    authorising_role: str | None = Field(
        None,
        max_length=200,
        description='Proposed authorising officer\'s rank or role, e.g. "Superintendent" (published as a '
        "proposal until the deployment opens).",
    )
    cameras: list[str] = Field(..., min_length=1, max_length=64)
    pack: str | None = None
    threshold: float | None = Field(None, ge=-1.0, le=1.0)
    threshold_override_reason: str | None = Field(None, max_length=2000)
    # Issue 15: required by governance (which names each one missing); optional here so that its message,
    # not a bare validation error, is what the client sees.
    phase: str | None = Field(None, max_length=16, description="trial or operational. Published.")
    dpia_ref: str | None = Field(None, max_length=2000, description="DPIA identifier or link. Published.")
    eia_ref: str | None = Field(None, max_length=2000, description="Equality impact assessment. Published.")
    policy_ref: str | None = Field(None, max_length=2000, description="Policy document. Published.")
    intelligence_case: str | None = Field(
        None, max_length=4000, description="Intelligence case for the place (internal, never published)."
    )
    data_controller: str | None = Field(None, max_length=500, description="Default: server.data_controller.")
    public_contact: str | None = Field(None, max_length=500, description="Default: server.contact.")
    short_notice_reason: str | None = Field(
        None, max_length=2000, description="Needed to start within governance.notice_hours (audited)."
    )
    objective: str | None = Field(
        None, max_length=2000, description="What the deployment is meant to achieve. Published."
    )
    success_measures: list[str] = Field(
        default_factory=list, max_length=10, description="How success is judged. Published."
    )
    on_behalf_of: str | None = Field(
        None, max_length=500, description="The force it is run for, when not this force. Published."
    )
    on_behalf_of_controller: str | None = Field(
        None, max_length=500, description="That force's data controller (with on_behalf_of). Published."
    )


class OpenIn(BaseModel):
    reason: str | None = Field(None, max_length=2000, description="Threshold override reason.")
    short_notice_reason: str | None = Field(None, max_length=2000)


class Reason(BaseModel):
    reason: str | None = Field(None, max_length=2000)


class UserIn(BaseModel):
    username: str = Field(..., max_length=64)
    password: str = Field(..., max_length=1024)
    role: str
    display_name: str = Field("", max_length=128)
    rank: str | None = Field(
        None, max_length=64, description="Police rank (openlfr.ranks); opening a deployment needs one."
    )


class RankIn(BaseModel):
    rank: str | None = Field(
        ..., max_length=64, description="A UK police rank (key or words), or null to clear it."
    )


@router.get("/deployments", tags=["deployments"], description=_roles_doc(roles.VIEW_DEPLOYMENTS))
def list_deployments(
    status: str | None = Query(None, pattern="^(planned|open|closed)$"),
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_DEPLOYMENTS)),
) -> list[dict[str, object]]:
    return [d.as_dict() for d in deployments.list_deployments(store, status)]


@router.post(
    "/deployments", status_code=201, tags=["deployments"], description=_roles_doc(roles.PLAN_DEPLOYMENT)
)
def create_deployment(
    body: DeploymentIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.PLAN_DEPLOYMENT)),
) -> dict[str, object]:
    dep = deployment_planning.create_deployment(store, actor_of(principal), **body.model_dump())
    return dep.as_dict()


@router.get(
    "/deployments/{deployment_id}", tags=["deployments"], description=_roles_doc(roles.VIEW_DEPLOYMENTS)
)
def get_deployment(
    deployment_id: str,
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_DEPLOYMENTS)),
) -> dict[str, object]:
    return deployments.get_deployment(store, deployment_id).as_dict()


@router.post(
    "/deployments/{deployment_id}/open", tags=["deployments"], description=_roles_doc(roles.OPEN_DEPLOYMENT)
)
def open_deployment(
    deployment_id: str,
    body: OpenIn | None = None,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.OPEN_DEPLOYMENT)),
) -> dict[str, object]:
    reason = body.reason if body else None
    return deployment_opening.open_deployment(
        store,
        actor_of(principal),
        deployment_id,
        override_reason=reason,
        short_notice_reason=body.short_notice_reason if body else None,
    ).as_dict()


@router.post(
    "/deployments/{deployment_id}/signage",
    tags=["deployments"],
    description=_roles_doc(roles.PLAN_DEPLOYMENT),
)
def signage_in_place(
    deployment_id: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.PLAN_DEPLOYMENT)),
) -> dict[str, object]:
    """Record that the signs are up at the place (who, when): opening needs it."""
    return deployment_opening.record_signage(store, actor_of(principal), deployment_id).as_dict()


@router.post(
    "/deployments/{deployment_id}/close", tags=["deployments"], description=_roles_doc(roles.CLOSE_DEPLOYMENT)
)
def close_deployment(
    deployment_id: str,
    body: Reason | None = None,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.CLOSE_DEPLOYMENT)),
) -> dict[str, object]:
    result = deployment_closing.close_deployment(
        store, actor_of(principal), deployment_id, reason=body.reason if body else None
    )
    return {
        "deployment": result.deployment.as_dict(),
        "subjects_destroyed": result.subjects_destroyed,
        "templates_destroyed": result.templates_destroyed,
        "blobs_deleted": result.blobs_deleted,
    }


def watchlist_summary(store: Store, deployment_id: str) -> dict[str, object]:
    """Size and categories of a deployment's watchlist: no names, images or templates."""
    pending = {p.subject_id for p in pending_entries(store, deployment_id)}
    everyone = list_subjects(store, deployment_id)
    # Approved entries only: entries awaiting approval are not searched (counted apart, issue 24).
    subjects = [s for s in everyone if s.subject_id not in pending]
    by_category = {key: 0 for key in WATCHLIST_CATEGORIES}
    for s in subjects:
        by_category[s.category] = by_category.get(s.category, 0) + 1
    return {
        "deployment_id": deployment_id,
        "subjects": len(subjects),
        "templates": sum(s.templates for s in subjects),
        "pending_approval": len(pending),
        "by_category": by_category,
    }


@router.get(
    "/deployments/{deployment_id}/watchlist",
    tags=["deployments"],
    description="Watchlist size and categories (no entries, no images). "
    + _roles_doc(roles.VIEW_WATCHLIST_SUMMARY),
)
def get_watchlist_summary(
    deployment_id: str,
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_WATCHLIST_SUMMARY)),
) -> dict[str, object]:
    return watchlist_summary(store, deployment_id)


@router.get(
    "/audit",
    tags=["audit"],
    description=_roles_doc(roles.VIEW_AUDIT)
    + " Roles that may not see alerts get alert details (subject, category, camera, score) redacted.",
)
def audit_entries(
    deployment_id: str | None = None,
    action: str | None = Query(None, max_length=64),
    last: int = Query(200, ge=1, le=10_000),
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.VIEW_AUDIT)),
) -> list[dict[str, Any]]:
    return [
        audit_view.row_as_dict(e, principal.role)
        for e in audit.entries(store, deployment_id=deployment_id, action=action, last=last)
    ]


@router.get("/audit/verify", tags=["audit"], description=_roles_doc(roles.VERIFY_AUDIT))
def audit_verify(
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.VERIFY_AUDIT)),
) -> dict[str, object]:
    result = audit.verify(store, actor=actor_of(principal))
    return {
        "ok": result.ok,
        "rows": result.rows,
        "bad_seq": result.bad_seq,
        "problem": result.problem,
        "last_hash": result.last_hash,
    }


@router.get("/users", tags=["users"], description=_roles_doc(roles.MANAGE_USERS))
def list_users(
    store: Store = Depends(get_store), _p: Principal = Depends(require_roles(*roles.MANAGE_USERS))
) -> list[dict[str, object]]:
    return [
        {
            "username": u.username,
            "display_name": u.display_name,
            "role": u.role,
            "rank": u.rank,
            "active": u.active,
            "created_at": u.created_at.isoformat(),
        }
        for u in users.list_users(store)
    ]


@router.post("/users", status_code=201, tags=["users"], description=_roles_doc(roles.MANAGE_USERS))
def add_user(
    body: UserIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.MANAGE_USERS)),
) -> dict[str, object]:
    try:
        user = users.create_user(
            store,
            body.username,
            body.password,
            body.role,
            body.display_name,
            actor=actor_of(principal),
            rank=body.rank,
        )
    except users.UserError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"username": user.username, "role": user.role, "rank": user.rank}


@router.put("/users/{username}/rank", tags=["users"], description=_roles_doc(roles.MANAGE_USERS))
def set_user_rank(
    username: str,
    body: RankIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.MANAGE_USERS)),
) -> dict[str, object]:
    try:
        rank = users.set_rank(store, username, body.rank, actor=actor_of(principal))
    except users.UserError as exc:
        raise HTTPException(404 if str(exc).startswith("no user") else 422, str(exc)) from None
    return {"username": username, "rank": rank}
