"""``/api/retro`` (RFR cases, searches, reviews), ``/api/oifr`` and ``/api/gallery``: issue 13.

Each endpoint names the roles it allows (``api.roles``). Uploaded RFR media are written to a private
temporary folder only for the analysis and removed after it; the OIFR photo is never written at all: it
is read into memory, searched, and overwritten before the list is returned.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from openlfr.api import roles
from openlfr.api.alerts_routes import image_media_type
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store, require_roles
from openlfr.api.users import Principal
from openlfr.retro import cases as retro_cases
from openlfr.retro import gallery_records
from openlfr.retro import reviews as retro_reviews
from openlfr.retro import rfr as retro_rfr
from openlfr.retro.cases import UseSwitchedOff, need_reason, parse_provenance, require_enabled
from openlfr.retro.gallery_keys import gallery_key, get_gallery
from openlfr.retro.gallery_records import read_gallery_image
from openlfr.retro.oifr import oifr_search, record_oifr_outcome
from openlfr.retro.reviews import case_results, record_investigation, review_candidate
from openlfr.retro.rfr import find_people, search_chosen
from openlfr.store import Store
from openlfr.vision.engine import FaceEngine, load_engine

router = APIRouter(tags=["retrospective and operator-initiated recognition"])


def _doc(allowed: tuple[Any, ...], extra: str = "") -> str:
    return (extra + " " if extra else "") + "Roles: " + ", ".join(r.value for r in allowed) + "."


def _engine(request: Request) -> FaceEngine:
    settings = request.app.state.settings
    return load_engine(settings.vision.pack, settings)


def _switch(use: str) -> Any:
    """A dependency refusing (403, saying so) every path of a use the force has switched off."""

    def check(request: Request) -> None:
        try:
            require_enabled(request.app.state.settings, use)
        except UseSwitchedOff as exc:
            raise HTTPException(403, str(exc)) from exc

    return Depends(check)


RFR_ON = _switch("rfr")
OIFR_ON = _switch("oifr")


class CaseIn(BaseModel):
    reference: str = Field(..., min_length=1, max_length=200)
    reason: str = Field("", max_length=4000)
    crime_category: str = Field(
        "", max_length=64, description="What the published totals count the case under (closed list)."
    )
    policy_ref: str | None = Field(None, max_length=200, description="Default: [retro] policy_ref.")
    dpia_ref: str | None = Field(None, max_length=200, description="Default: [retro] dpia_ref.")


class CloseIn(BaseModel):
    reason: str = Field(..., max_length=2000, description="Why the case ends now (audited).")


class InvestigationIn(BaseModel):
    outcome: str = Field(..., max_length=32, description="confirmed / not_confirmed.")


class OifrOutcomeIn(BaseModel):
    outcome: str = Field(..., max_length=32, description="identified / not_identified / inconclusive.")
    record_id: str | None = Field(
        None, max_length=200, description="With identified: the record on the list."
    )


class ChoiceIn(BaseModel):
    reason: str = Field("", max_length=4000)
    provenance: str = Field("", max_length=64, description="Where the media came from (closed list).")
    person: list[int] = Field(default_factory=list, description="The people to search, as numbered.")
    all_faces_reason: str | None = Field(
        None, max_length=4000, description="Search everyone instead, with the reason why (audited)."
    )
    top: int | None = Field(None, ge=1, le=200)


class ReviewIn(BaseModel):
    decision: str = Field(..., max_length=32)
    note: str | None = Field(None, max_length=2000)


@router.post("/api/retro/cases", status_code=201, description=_doc(roles.OPEN_CASE, "Open an RFR case."))
def open_case(
    body: CaseIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.OPEN_CASE)),
) -> dict[str, Any]:
    c = retro_cases.open_case(
        store,
        body.reference,
        body.reason,
        actor_of(principal),
        crime_category=body.crime_category,
        policy_ref=body.policy_ref,
        dpia_ref=body.dpia_ref,
    )
    return {"reference": c.reference, "retain_until": c.retain_until.isoformat()}


@router.post(
    "/api/retro/cases/{reference}/close",
    description=_doc(
        roles.CLOSE_CASE,
        "Close a case early: probes, lists, decisions and key purged at once. Its officer or an authorising "
        "officer only.",
    ),
)
def close_case(
    reference: str,
    body: CloseIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.CLOSE_CASE)),
) -> dict[str, Any]:
    c = retro_cases.close_case(store, reference, body.reason, actor_of(principal))
    return {"reference": c.reference, "closed_at": c.closed_at.isoformat() if c.closed_at else None}


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
    return case_results(store, reference, actor_of(principal))


@router.post(
    "/api/retro/cases/{reference}/search",
    description=_doc(
        roles.RUN_RFR,
        "Search images/videos for the person of interest. One face in still images is searched at once "
        "(`status: searched`, `faces`). Otherwise nothing is searched yet: `status: choose` lists the `people` "
        "found (thumbnail, quality; kept in memory only, until `expires_at`) and the `selection` to post the "
        "choice to. Giving `person` (or `all_faces_reason`) here searches at once.",
    ),
    dependencies=[RFR_ON],
)
def rfr_search(
    reference: str,
    request: Request,
    media: list[UploadFile] = File(...),
    reason: str = Form(""),
    provenance: str = Form(""),
    person: list[int] = Form([]),
    all_faces_reason: str | None = Form(None),
    top: int | None = Form(None, ge=1, le=200),
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RUN_RFR)),
) -> dict[str, Any]:
    engine = _engine(request)
    who = actor_of(principal)
    with tempfile.TemporaryDirectory(prefix="openlfr-rfr-") as tmp:
        paths = []
        for i, up in enumerate(media):
            name = Path(up.filename or f"upload-{i}").name or f"upload-{i}"
            path = Path(tmp) / f"{i}-{name}"
            path.write_bytes(up.file.read())
            paths.append(path)
        if person or (all_faces_reason or "").strip():
            faces = retro_rfr.rfr_search(
                store,
                engine,
                reference,
                reason,
                paths,
                who,
                provenance=provenance,
                person=person,
                all_faces_reason=all_faces_reason,
                k=top,
            )
            return {"case": reference, "status": "searched", "faces": [f.as_dict() for f in faces]}
        parse_provenance(provenance)  # a bad request fails before the media are analysed
        need_reason(reason, "an RFR search")
        token, people, expires = find_people(store, engine, reference, paths, who)
    if len(people) == 1 and people[0].frame_index is None:  # a single face in a still: straight through
        faces = search_chosen(
            store, engine, reference, token, reason, who, provenance=provenance, person=[1], k=top
        )
        return {"case": reference, "status": "searched", "faces": [f.as_dict() for f in faces]}
    return {
        "case": reference,
        "status": "choose",
        "selection": token,
        "expires_at": expires.isoformat(),
        "people": [p.as_dict() for p in people],
    }


@router.post(
    "/api/retro/cases/{reference}/search/{selection}",
    description=_doc(
        roles.RUN_RFR,
        "Search the people chosen from a `status: choose` answer; the others are wiped unsearched.",
    ),
    dependencies=[RFR_ON],
)
def rfr_search_chosen(
    reference: str,
    selection: str,
    body: ChoiceIn,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RUN_RFR)),
) -> dict[str, Any]:
    faces = search_chosen(
        store,
        _engine(request),
        reference,
        selection,
        body.reason,
        actor_of(principal),
        provenance=body.provenance,
        person=body.person,
        all_faces_reason=body.all_faces_reason,
        k=body.top,
    )
    return {"case": reference, "status": "searched", "faces": [f.as_dict() for f in faces]}


@router.post(
    "/api/retro/candidates/{candidate_id}/investigation",
    description=_doc(
        roles.OPEN_CASE,
        "The investigation's outcome on a reported possible match: confirmed / not_confirmed.",
    ),
    dependencies=[RFR_ON],
)
def investigation(
    candidate_id: str,
    body: InvestigationIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.OPEN_CASE)),
) -> dict[str, str]:
    words = record_investigation(store, candidate_id, body.outcome, actor_of(principal))
    return {"candidate": candidate_id, "investigation": words}


@router.post(
    "/api/retro/candidates/{candidate_id}/review",
    description=_doc(
        roles.REVIEW_RFR, "possible_match / no_match / inconclusive; a possible match needs two reviewers."
    ),
    dependencies=[RFR_ON],
)
def review(
    candidate_id: str,
    body: ReviewIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.REVIEW_RFR)),
) -> dict[str, str]:
    status = review_candidate(store, candidate_id, body.decision, actor_of(principal), body.note)
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
    data = retro_reviews.probe_image(store, probe_id, actor_of(principal))
    return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "no-store, private"})


@router.post(
    "/api/oifr",
    description=_doc(
        roles.RUN_OIFR,
        "Operator-initiated search of one photo; the photo is never stored and is overwritten. The answer's "
        "`id` is the search the officer records the outcome against.",
    ),
    dependencies=[OIFR_ON],
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

    result = await run_in_threadpool(oifr_search, store, _engine(request), data, reason, actor_of(principal))
    out = result.as_dict()
    for c, row in zip(result.candidates, out["faces"][0]["candidates"], strict=True):
        row["image_url"] = f"/api/gallery/images/{c.template_id}"
    return out


@router.post(
    "/api/oifr/{search_id}/outcome",
    description=_doc(
        roles.RUN_OIFR,
        "The officer's conclusion on an OIFR list: identified (with record_id) / not_identified / "
        "inconclusive. Audited, counted; by the searching officer or an authorising officer.",
    ),
    dependencies=[OIFR_ON],
)
def oifr_outcome(
    search_id: str,
    body: OifrOutcomeIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.RUN_OIFR, *roles.OPEN_CASE)),
) -> dict[str, Any]:
    return record_oifr_outcome(store, search_id, body.outcome, actor_of(principal), record_id=body.record_id)


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
        g = get_gallery(s, store.settings.retro.gallery)
    key = gallery_key(store, g)
    data = read_gallery_image(store, g, key, template_id, actor_of(principal), why)
    return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "no-store, private"})


@router.get("/api/gallery/stats", description=_doc(roles.VIEW_GALLERY_STATS))
def gallery_stats(
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_GALLERY_STATS)),
) -> dict[str, Any]:
    st = gallery_records.gallery_stats(store)
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
    n = gallery_records.remove_record(store, record_id, actor_of(principal), reason)
    return {"record_id": record_id, "removed_images": n}
