"""``/api/retro`` (RFR cases, searches, reviews), ``/api/oifr`` and ``/api/gallery``: issue 13.

Each endpoint names the roles it allows (``api.roles``). Uploaded RFR media are written to a private
temporary folder only for the analysis and removed after it; the OIFR photo is never written at all: it
is read into memory, searched, and overwritten before the list is returned.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from openlfr.api import roles
from openlfr.api.alerts_routes import image_media_type
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store, require_roles
from openlfr.api.users import Principal
from openlfr.retro import gallery as gallery_svc
from openlfr.retro import search as retro
from openlfr.store import Store
from openlfr.vision.engine import FaceEngine, load_engine

router = APIRouter(tags=["retrospective and operator-initiated recognition"])


def _doc(allowed: tuple[Any, ...], extra: str = "") -> str:
    return (extra + " " if extra else "") + "Roles: " + ", ".join(r.value for r in allowed) + "."


def _engine(request: Request) -> FaceEngine:
    settings = request.app.state.settings
    return load_engine(settings.vision.pack, settings)


class CaseIn(BaseModel):
    reference: str = Field(..., min_length=1, max_length=200)
    reason: str = Field("", max_length=4000)


class ReviewIn(BaseModel):
    decision: str = Field(..., max_length=32)
    note: str | None = Field(None, max_length=2000)


@router.post("/api/retro/cases", status_code=201, description=_doc(roles.OPEN_CASE, "Open an RFR case."))
def open_case(
    body: CaseIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.OPEN_CASE)),
) -> dict[str, Any]:
    c = retro.open_case(store, body.reference, body.reason, actor_of(principal))
    return {"reference": c.reference, "retain_until": c.retain_until.isoformat()}


@router.get(
    "/api/retro/cases/{reference}",
    description=_doc(
        roles.VIEW_CASES, "Faces, candidate lists, decisions; `reported` = two reviewers agreed."
    ),
)
def get_case(
    reference: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.VIEW_CASES)),
) -> dict[str, Any]:
    return retro.case_results(store, reference, actor_of(principal))


@router.post(
    "/api/retro/cases/{reference}/search",
    description=_doc(
        roles.RUN_RFR, "Search images/videos: one candidate list per face (per person in a video)."
    ),
)
def rfr_search(
    reference: str,
    request: Request,
    media: list[UploadFile] = File(...),
    reason: str = Form(""),
    top: int | None = Form(None, ge=1, le=200),
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RUN_RFR)),
) -> dict[str, Any]:
    engine = _engine(request)
    with tempfile.TemporaryDirectory(prefix="openlfr-rfr-") as tmp:
        paths = []
        for i, up in enumerate(media):
            name = Path(up.filename or f"upload-{i}").name or f"upload-{i}"
            path = Path(tmp) / f"{i}-{name}"
            path.write_bytes(up.file.read())
            paths.append(path)
        faces = retro.rfr_search(store, engine, reference, reason, paths, actor_of(principal), k=top)
    return {"case": reference, "faces": [f.as_dict() for f in faces]}


@router.post(
    "/api/retro/candidates/{candidate_id}/review",
    description=_doc(
        roles.REVIEW_RFR, "possible_match / no_match / inconclusive; a possible match needs two reviewers."
    ),
)
def review(
    candidate_id: str,
    body: ReviewIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.REVIEW_RFR)),
) -> dict[str, str]:
    status = retro.review_candidate(store, candidate_id, body.decision, actor_of(principal), body.note)
    return {"candidate": candidate_id, "status": status}


@router.get(
    "/api/retro/probes/{probe_id}/image",
    description=_doc(roles.VIEW_RFR_IMAGES, "A probe face crop. Audited."),
    response_class=Response,
)
def probe_image(
    probe_id: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.VIEW_RFR_IMAGES)),
) -> Response:
    data = retro.probe_image(store, probe_id, actor_of(principal))
    return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "no-store, private"})


@router.post(
    "/api/oifr",
    description=_doc(
        roles.RUN_OIFR,
        "Operator-initiated search of one photo; the photo is never stored and is overwritten.",
    ),
)
async def oifr(
    request: Request,
    photo: UploadFile = File(...),
    reason: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RUN_OIFR)),
) -> dict[str, Any]:
    data = bytearray(await photo.read())
    await photo.close()  # the spooled upload (an unnamed temporary file when large) goes now
    from starlette.concurrency import run_in_threadpool

    result = await run_in_threadpool(
        retro.oifr_search, store, _engine(request), data, reason, actor_of(principal)
    )
    out = result.as_dict()
    for c, row in zip(result.candidates, out["faces"][0]["candidates"], strict=True):
        row["image_url"] = f"/api/gallery/images/{c.template_id}"
    return out


@router.get(
    "/api/gallery/images/{template_id}",
    description=_doc(roles.VIEW_GALLERY_IMAGES, "A custody image of a candidate. Audited."),
    response_class=Response,
)
def gallery_image(
    template_id: int,
    why: str = "candidate comparison",
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.VIEW_GALLERY_IMAGES)),
) -> Response:
    with store.session() as s:
        g = gallery_svc.get_gallery(s, store.settings.retro.gallery)
    key = gallery_svc.gallery_key(store, g)
    data = gallery_svc.read_gallery_image(store, g, key, template_id, actor_of(principal), why)
    return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "no-store, private"})


@router.get("/api/gallery/stats", description=_doc(roles.VIEW_GALLERY_STATS))
def gallery_stats(
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_GALLERY_STATS)),
) -> dict[str, Any]:
    st = gallery_svc.gallery_stats(store)
    return {
        "gallery": st.name,
        "pack": st.pack,
        "records": st.records,
        "images": st.templates,
        "flagged_records": st.flagged_records,
        "flags": st.flags,
    }


@router.delete(
    "/api/gallery/records/{record_id}",
    description=_doc(roles.REMOVE_GALLERY_RECORD, "Remove a record: immediate in the index, audited."),
)
def remove_record(
    record_id: str,
    reason: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.REMOVE_GALLERY_RECORD)),
) -> dict[str, Any]:
    n = gallery_svc.remove_record(store, record_id, actor_of(principal), reason)
    return {"record_id": record_id, "removed_images": n}
