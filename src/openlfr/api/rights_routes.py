"""``/api/rights`` and ``/api/complaints``: a stopped person's rights by the reference on their leaflet, and
the complaints register (issue 27). Only the data protection role looks up, exports or erases; nothing here
takes an image (nothing is findable by face)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store, require_roles
from openlfr.api.users import Principal
from openlfr.governance import complaints, subject_access
from openlfr.store import Store

router = APIRouter(prefix="/api", tags=["public rights"])


def _doc(allowed: tuple[Any, ...], extra: str) -> str:
    return extra + " Roles: " + ", ".join(r.value for r in allowed) + "."


class ErasureIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000, description="The request (audited).")


class ComplaintIn(BaseModel):
    received_at: AwareDatetime
    category: str = Field(
        ..., max_length=200, description="One of: " + ", ".join(complaints.COMPLAINT_CATEGORIES) + "."
    )
    deployment_id: str | None = Field(None, max_length=32)
    reference: str | None = Field(None, max_length=32, description="The stopped person's reference.")
    external_ref: str | None = Field(None, max_length=200, description="Your complaints system's reference.")


class OutcomeIn(BaseModel):
    outcome: str = Field(
        ..., max_length=200, description="One of: " + ", ".join(complaints.COMPLAINT_OUTCOMES) + "."
    )
    at: AwareDatetime | None = None


@router.get("/rights/{reference}", description=_doc(roles.SUBJECT_ACCESS, "What is held (audited)."))
def look_up(
    reference: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.SUBJECT_ACCESS)),
) -> dict[str, Any]:
    return subject_access.look_up(store, actor_of(principal), reference).as_dict()


@router.get(
    "/rights/{reference}/export",
    description=_doc(roles.SUBJECT_ACCESS, "The subject access response, a zip (audited, counted)."),
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
)
def export(
    reference: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.SUBJECT_ACCESS)),
) -> Response:
    data = subject_access.export_response(store, actor_of(principal), reference)
    name = subject_access.parse_reference(reference)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="subject-access-{name}.zip"',
            "Cache-Control": "no-store, private",
        },
    )


@router.post(
    "/rights/{reference}/erase",
    description=_doc(roles.SUBJECT_ACCESS, "Erase where the law allows; a refusal names the exemption."),
)
def erase(
    reference: str,
    body: ErasureIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.SUBJECT_ACCESS)),
) -> dict[str, Any]:
    r = subject_access.erase(store, actor_of(principal), reference, body.reason)
    return {
        "reference": r.reference,
        "erased": r.erased,
        "result": r.reason,
        "images_deleted": r.images_deleted,
    }


@router.get("/complaints", description=_doc(roles.VIEW_COMPLAINTS, "The register, oldest first."))
def list_complaints(
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_COMPLAINTS)),
) -> list[dict[str, object]]:
    return [c.as_dict() for c in complaints.list_complaints(store)]


@router.post(
    "/complaints", status_code=201, description=_doc(roles.RECORD_COMPLAINTS, "Enter a complaint (audited).")
)
def add_complaint(
    body: ComplaintIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RECORD_COMPLAINTS)),
) -> dict[str, object]:
    return complaints.record_complaint(store, actor_of(principal), **body.model_dump()).as_dict()


@router.post(
    "/complaints/{complaint_id}/outcome",
    description=_doc(roles.RECORD_COMPLAINTS, "Record how a complaint ended (once; audited)."),
)
def complaint_outcome(
    complaint_id: str,
    body: OutcomeIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RECORD_COMPLAINTS)),
) -> dict[str, object]:
    return complaints.record_complaint_outcome(
        store, actor_of(principal), complaint_id, body.outcome, at=body.at
    ).as_dict()
