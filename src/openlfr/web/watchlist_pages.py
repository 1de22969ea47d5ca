"""Watchlist pages: enrol and import (upload, quality report), and a second person's approval.

The same helpers as the API (:mod:`openlfr.api.watchlist_routes`), the same role table."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openlfr.api import roles
from openlfr.api.alerts_routes import image_media_type
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store
from openlfr.api.users import Principal
from openlfr.api.watchlist_routes import enrol_from_upload, entry_form, import_from_upload, read_uploads
from openlfr.governance import deployments
from openlfr.governance.closed_lists import IMAGE_SOURCES, OFFENCE_SERIOUSNESS
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlist_approval import approve_entry, entry_image, pending_entries, reject_entry
from openlfr.governance.watchlists import EnrolmentError, ImportReport, list_subjects
from openlfr.store import Store
from openlfr.store.models import WATCHLIST_CATEGORIES
from openlfr.web.pages import page_roles
from openlfr.web.render import page

router = APIRouter(include_in_schema=False)


@router.get("/watchlists", response_class=HTMLResponse)
def watchlists_page(
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_WATCHLIST_ENTRIES)),
) -> Response:
    deps = [d for d in deployments.list_deployments(store) if d.status != "closed"]
    rows = [(d, len(pending_entries(store, d.id))) for d in deps]
    return page(request, "watchlists.html", rows=rows)


def _watchlist_page(
    request: Request,
    store: Store,
    principal: Principal,
    deployment_id: str,
    *,
    status: int = 200,
    error: str | None = None,
    refused: list[Any] | None = None,
) -> Response:
    dep = deployments.get_deployment(store, deployment_id)
    is_closed = dep.status == "closed"
    pending = [] if is_closed else pending_entries(store, deployment_id)
    pending_ids = {p.subject_id for p in pending}
    subjects = (
        []
        if is_closed
        else [s for s in list_subjects(store, deployment_id) if s.subject_id not in pending_ids]
    )
    return page(
        request,
        "watchlist.html",
        status_code=status,
        dep=dep,
        pending=pending,
        subjects=subjects,
        categories=WATCHLIST_CATEGORIES,
        image_sources=IMAGE_SOURCES,
        offence_seriousness=OFFENCE_SERIOUSNESS,
        can_enrol=principal.role in roles.ENROL_WATCHLIST and not is_closed,
        can_approve=principal.role in roles.APPROVE_WATCHLIST and not is_closed,
        # A notice comes only from the server (the flash cookie it set with the redirect), never from the
        # address bar: a link with ?message= cannot print an official-looking notice.
        message=request.cookies.get(FLASH_COOKIE) and unquote(request.cookies[FLASH_COOKIE])[:500],
        error=error,
        refused=refused or [],
    )


@router.get("/deployments/{deployment_id}/watchlist", response_class=HTMLResponse)
def watchlist_page(
    deployment_id: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.VIEW_WATCHLIST_ENTRIES)),
) -> Response:
    response = _watchlist_page(request, store, principal, deployment_id)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=f"/deployments/{deployment_id}/watchlist")
    return response


@router.get("/deployments/{deployment_id}/watchlist/{subject_id}/images/{index}")
def entry_image_page(
    deployment_id: str,
    subject_id: str,
    index: int,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.APPROVE_WATCHLIST)),
) -> Response:
    """An entry's reference image for the person approving it (audited)."""
    data = entry_image(store, actor_of(principal), deployment_id, subject_id, index)
    return Response(data, media_type=image_media_type(data), headers={"Cache-Control": "no-store, private"})


FLASH_COOKIE = "openlfr_flash"


def _after(deployment_id: str, message: str) -> Response:
    """Back to the watchlist page with a notice the server chose, carried by a short-lived cookie."""
    path = f"/deployments/{deployment_id}/watchlist"
    response = RedirectResponse(path, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, path=path, httponly=True, samesite="strict")
    return response


def _enrolled(deployment_id: str, report: ImportReport) -> Response:
    return _after(
        deployment_id,
        f"{report.subjects_enrolled} subject(s) with {report.images_enrolled} image(s) enrolled; "
        "they wait for a second person's approval",
    )


def _refused(
    request: Request, store: Store, principal: Principal, deployment_id: str, exc: GovernanceError
) -> Response:
    refused = list(exc.refusals) if isinstance(exc, EnrolmentError) else []
    message = str(exc).split("\n", 1)[0]
    return _watchlist_page(
        request, store, principal, deployment_id, status=422, error=message, refused=refused
    )


@router.post("/deployments/{deployment_id}/watchlist/enrol")
async def enrol_form(
    deployment_id: str,
    request: Request,
    fields: dict[str, str] = Depends(entry_form),
    lookalike_reason: str = Form("", max_length=2000),
    images: list[UploadFile] = File(...),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.ENROL_WATCHLIST)),
) -> Response:
    try:
        uploads = await read_uploads(store, images)
        report = enrol_from_upload(
            store, actor_of(principal), deployment_id, fields, uploads, lookalike_reason
        )
    except GovernanceError as exc:
        return _refused(request, store, principal, deployment_id, exc)
    return _enrolled(deployment_id, report)


@router.post("/deployments/{deployment_id}/watchlist/import")
async def import_form(
    deployment_id: str,
    request: Request,
    csv: UploadFile = File(...),
    images: list[UploadFile] = File(...),
    allow_partial: bool = Form(False),
    lookalike_reason: str = Form("", max_length=2000),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.ENROL_WATCHLIST)),
) -> Response:
    try:
        csv_data = await csv.read(10 * 1024 * 1024 + 1)
        if len(csv_data) > 10 * 1024 * 1024:
            raise GovernanceError("the CSV is larger than 10 MB")
        uploads = await read_uploads(store, images)
        report = import_from_upload(
            store, actor_of(principal), deployment_id, csv_data, uploads, allow_partial, lookalike_reason
        )
    except GovernanceError as exc:
        return _refused(request, store, principal, deployment_id, exc)
    return _enrolled(deployment_id, report)


@router.post("/deployments/{deployment_id}/watchlist/{subject_id}/approve")
def approve_form(
    deployment_id: str,
    subject_id: str,
    request: Request,
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.APPROVE_WATCHLIST)),
) -> Response:
    try:
        approve_entry(store, actor_of(principal), deployment_id, subject_id)
    except GovernanceError as exc:
        return _watchlist_page(request, store, principal, deployment_id, status=409, error=str(exc))
    return _after(deployment_id, f"{subject_id} approved: searched from the next watchlist load")


@router.post("/deployments/{deployment_id}/watchlist/{subject_id}/reject")
def reject_form(
    deployment_id: str,
    subject_id: str,
    request: Request,
    reason: str = Form("", max_length=2000),
    store: Store = Depends(get_store),
    principal: Principal = Depends(page_roles(*roles.APPROVE_WATCHLIST)),
) -> Response:
    try:
        reject_entry(store, actor_of(principal), deployment_id, subject_id, reason)
    except GovernanceError as exc:
        return _watchlist_page(request, store, principal, deployment_id, status=409, error=str(exc))
    return _after(deployment_id, f"{subject_id} rejected and deleted with its images")
