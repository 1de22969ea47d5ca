"""Pages for issue 13: the mobile-first OIFR page (camera upload) and an RFR case review page.

No script: the OIFR form opens the phone's camera through ``<input type=file capture>``, and the result
page shows the candidate list (custody images only to the roles allowed to compare faces).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store
from openlfr.api.users import Principal
from openlfr.governance.errors import GovernanceError
from openlfr.retro import search as retro
from openlfr.store import Store
from openlfr.store.models import OIFR_REASONS, REVIEW_DECISIONS
from openlfr.vision.engine import load_engine
from openlfr.web.pages import page_roles
from openlfr.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/oifr", response_class=HTMLResponse)
def oifr_form(request: Request, principal: Principal = Depends(page_roles(*roles.RUN_OIFR))) -> Response:
    return page(request, "oifr.html", reasons=OIFR_REASONS, result=None, error=None)


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
        engine = await run_in_threadpool(load_engine, settings.vision.pack, settings)
        result = await run_in_threadpool(retro.oifr_search, store, engine, data, reason, actor_of(principal))
    except GovernanceError as exc:
        return page(request, "oifr.html", status_code=409, reasons=OIFR_REASONS, result=None, error=str(exc))
    finally:
        data[:] = b"\0" * len(data)
    return page(
        request,
        "oifr.html",
        reasons=OIFR_REASONS,
        result=result,
        error=None,
        show_images=principal.role in roles.VIEW_GALLERY_IMAGES,
    )


@router.get("/retro/cases/{reference}", response_class=HTMLResponse)
def case_page(
    reference: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_CASES)),
) -> Response:
    res = retro.case_results(store, reference, actor_of(principal))
    return page(
        request,
        "retro_case.html",
        case=res,
        decisions=REVIEW_DECISIONS,
        can_review=principal.role in roles.REVIEW_RFR,
        show_images=principal.role in roles.VIEW_RFR_IMAGES,
        me=str(actor_of(principal)),
        error=request.query_params.get("error"),
    )


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
    from urllib.parse import quote

    target = f"/retro/cases/{quote(case)}"
    try:
        retro.review_candidate(store, candidate_id, decision, actor_of(principal), note or None)
    except GovernanceError as exc:
        return RedirectResponse(f"{target}?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(target, status_code=303)
