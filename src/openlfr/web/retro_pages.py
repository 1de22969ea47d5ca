"""Pages for RFR and OIFR (issues 13, 26): the mobile-first OIFR page (camera upload, then the officer's
recorded outcome), the RFR case page (search for the person of interest, reviews, investigation outcome,
early closing) and the RFR/OIFR supervision page (unanswered OIFR lists chased, open cases).

No script: the OIFR form opens the phone's camera through ``<input type=file capture>``. An RFR upload with
a video or several faces shows the people found (thumbnails served from the in-memory pending choice, never
stored) and the officer ticks whom to search. A use the force has switched off answers 403 saying so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store
from openlfr.api.users import Principal
from openlfr.governance.errors import GovernanceError
from openlfr.retro.cases import (
    UseSwitchedOff,
    close_case,
    need_reason,
    open_cases,
    parse_provenance,
    require_enabled,
)
from openlfr.retro.oifr import oifr_search, record_oifr_outcome, unanswered_oifr
from openlfr.retro.people import pending_choices
from openlfr.retro.reviews import case_results, record_investigation, review_candidate
from openlfr.retro.rfr import find_people, search_chosen
from openlfr.store import Store, utcnow
from openlfr.store.models import (
    INVESTIGATION_OUTCOMES,
    MEDIA_PROVENANCE,
    OIFR_OUTCOMES,
    OIFR_REASONS,
    REVIEW_DECISIONS,
)
from openlfr.vision.engine import load_engine
from openlfr.web.pages import page_roles
from openlfr.web.render import page

router = APIRouter(include_in_schema=False)


def _switched_off(request: Request, use: str) -> Response | None:
    """The 403 page when ``use`` is switched off for this force, else None."""
    try:
        require_enabled(request.app.state.settings, use)
    except UseSwitchedOff as exc:
        return page(request, "retro_off.html", status_code=403, message=str(exc))
    return None


# --- OIFR ----------------------------------------------------------------------------------------------


def _oifr_page(request: Request, status_code: int = 200, **kw: object) -> Response:
    ctx: dict[str, object] = {
        "reasons": OIFR_REASONS,
        "outcomes": OIFR_OUTCOMES,
        "result": None,
        "error": None,
    }
    ctx.update(kw)
    return page(request, "oifr.html", status_code=status_code, **ctx)


@router.get("/oifr", response_class=HTMLResponse)
def oifr_form(request: Request, principal: Principal = Depends(page_roles(*roles.RUN_OIFR))) -> Response:
    return _switched_off(request, "oifr") or _oifr_page(request)


@router.post("/oifr", response_class=HTMLResponse)
async def oifr_submit(
    request: Request,
    photo: UploadFile = File(...),
    reason: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.RUN_OIFR)),
) -> Response:
    data = bytearray(await photo.read())
    await photo.close()
    settings = request.app.state.settings
    try:
        off = _switched_off(request, "oifr")
        if off is not None:
            return off
        engine = await run_in_threadpool(load_engine, settings.vision.pack, settings)
        result = await run_in_threadpool(oifr_search, store, engine, data, reason, actor_of(principal))
    except GovernanceError as exc:
        return _oifr_page(request, status_code=409, error=str(exc))
    finally:
        data[:] = b"\0" * len(data)
    return _oifr_page(request, result=result, show_images=principal.role in roles.VIEW_GALLERY_IMAGES)


@router.post("/oifr/{search_id}/outcome", response_class=HTMLResponse)
def oifr_outcome_submit(
    search_id: str,
    request: Request,
    outcome: str = Form(""),
    record_id: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.RUN_OIFR, *roles.OPEN_CASE)),
) -> Response:
    off = _switched_off(request, "oifr")
    if off is not None:
        return off
    try:
        out = record_oifr_outcome(store, search_id, outcome, actor_of(principal), record_id=record_id or None)
    except GovernanceError as exc:
        return _oifr_page(request, status_code=409, error=str(exc))
    words = OIFR_OUTCOMES[out["outcome"]] + (f" ({out['record_id']})" if out["record_id"] else "")
    return _oifr_page(request, recorded=f"Outcome recorded: {words}, at {out['recorded_at'][:16]} UTC.")


# --- RFR -----------------------------------------------------------------------------------------------


def _case_target(reference: str, error: str | None = None) -> RedirectResponse:
    target = f"/retro/cases/{quote(reference)}"
    return RedirectResponse(f"{target}?error={quote(error)}" if error else target, status_code=303)


@router.get("/retro/cases/{reference}", response_class=HTMLResponse)
def case_page(
    reference: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_CASES)),
) -> Response:
    # Viewing and closing stay open when RFR is switched off: a force that stops must still be able to
    # review and end its cases. Searching, reviewing and opening are refused.
    res = case_results(store, reference, actor_of(principal))
    me = actor_of(principal)
    return page(
        request,
        "retro_case.html",
        case=res,
        decisions=REVIEW_DECISIONS,
        provenance=MEDIA_PROVENANCE,
        investigation=INVESTIGATION_OUTCOMES,
        can_review=principal.role in roles.REVIEW_RFR,
        can_search=principal.role in roles.RUN_RFR and request.app.state.settings.retro.rfr_enabled,
        can_record_investigation=principal.role in roles.OPEN_CASE,
        can_close=principal.role in roles.CLOSE_CASE
        and (res["opened_by"].split(" (")[0] == me.name or principal.role.value == "authorising_officer"),
        show_images=principal.role in roles.VIEW_RFR_IMAGES,
        me=str(me),
        error=request.query_params.get("error"),
    )


@router.post("/retro/cases/{reference}/search", response_class=HTMLResponse)
def case_search(
    reference: str,
    request: Request,
    media: list[UploadFile] = File(...),
    reason: str = Form(""),
    provenance: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.RUN_RFR)),
) -> Response:
    off = _switched_off(request, "rfr")
    if off is not None:
        return off
    settings = request.app.state.settings
    who = actor_of(principal)
    try:
        need_reason(reason, "an RFR search")
        parse_provenance(provenance)
        engine = load_engine(settings.vision.pack, settings)
        with tempfile.TemporaryDirectory(prefix="openlfr-rfr-") as tmp:
            paths = []
            for i, up in enumerate(media):
                path = Path(tmp) / f"{i}-{Path(up.filename or 'upload').name or 'upload'}"
                path.write_bytes(up.file.read())
                paths.append(path)
            token, people, expires = find_people(store, engine, reference, paths, who)
        if len(people) == 1 and people[0].frame_index is None:
            search_chosen(store, engine, reference, token, reason, who, provenance=provenance, person=[1])
            return _case_target(reference)
    except GovernanceError as exc:
        return _case_target(reference, str(exc))
    return page(
        request,
        "retro_choose.html",
        case=reference,
        selection=token,
        people=people,
        expires=expires,
        reason=reason,
        provenance=provenance,
        provenance_words=MEDIA_PROVENANCE.get(provenance, provenance),
    )


@router.get("/retro/choices/{selection}/{number}.jpg")
def chosen_thumbnail(
    selection: str,
    number: int,
    request: Request,
    principal: Principal = Depends(page_roles(*roles.RUN_RFR)),
) -> Response:
    data = pending_choices.thumbnail(selection, str(actor_of(principal)), number, utcnow())
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store, private"})


@router.post("/retro/cases/{reference}/search/{selection}")
async def case_search_chosen(
    reference: str,
    selection: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.RUN_RFR)),
) -> Response:
    off = _switched_off(request, "rfr")
    if off is not None:
        return off
    form = await request.form()
    person = [int(str(v)) for v in form.getlist("person") if str(v).isdigit()]
    all_why = str(form.get("all_faces_reason") or "").strip() if form.get("everyone") else None
    settings = request.app.state.settings
    try:
        engine = await run_in_threadpool(load_engine, settings.vision.pack, settings)
        await run_in_threadpool(
            lambda: search_chosen(
                store,
                engine,
                reference,
                selection,
                str(form.get("reason") or ""),
                actor_of(principal),
                provenance=str(form.get("provenance") or ""),
                person=[] if all_why is not None else person,
                all_faces_reason=all_why if all_why is not None else None,
            )
        )
    except GovernanceError as exc:
        return _case_target(reference, str(exc))
    return _case_target(reference)


@router.post("/retro/cases/{reference}/close")
def case_close(
    reference: str,
    request: Request,
    reason: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.CLOSE_CASE)),
) -> Response:
    try:
        info = close_case(store, reference, reason, actor_of(principal))
    except GovernanceError as exc:
        return _case_target(reference, str(exc))
    return page(request, "retro_closed.html", c=info)


@router.post("/retro/candidates/{candidate_id}/review")
def review_submit(
    candidate_id: str,
    request: Request,
    decision: str = Form(...),
    case: str = Form(...),
    note: str = Form(""),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.REVIEW_RFR)),
) -> Response:
    try:
        review_candidate(store, candidate_id, decision, actor_of(principal), note or None)
    except GovernanceError as exc:
        return _case_target(case, str(exc))
    return _case_target(case)


@router.post("/retro/candidates/{candidate_id}/investigation")
def investigation_submit(
    candidate_id: str,
    request: Request,
    outcome: str = Form(...),
    case: str = Form(...),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.OPEN_CASE)),
) -> Response:
    try:
        record_investigation(store, candidate_id, outcome, actor_of(principal))
    except GovernanceError as exc:
        return _case_target(case, str(exc))
    return _case_target(case)


@router.get("/retro", response_class=HTMLResponse)
def supervision(
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.SUPERVISE_RETRO)),
) -> Response:
    """Unanswered OIFR lists to chase, open RFR cases, and which uses are switched on."""
    return page(
        request,
        "retro_supervision.html",
        unanswered=unanswered_oifr(store),
        cases=open_cases(store),
        reasons=OIFR_REASONS,
        chase_hours=request.app.state.settings.retro.oifr_outcome_chase_hours,
        uses={
            "rfr": request.app.state.settings.retro.rfr_enabled,
            "oifr": request.app.state.settings.retro.oifr_enabled,
        },
    )
