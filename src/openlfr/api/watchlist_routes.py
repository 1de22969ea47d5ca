"""``/api/deployments/{id}/watchlist/...``: enrol and import through the API, with a quality report, and
a second person's approval before an entry is searched.

Who may do what comes from :mod:`openlfr.api.roles`: enrolment ``ENROL_WATCHLIST``, approval and rejection
``APPROVE_WATCHLIST`` (never the person who enrolled the entry), the entries ``VIEW_WATCHLIST_ENTRIES``.
The console's pages (:mod:`openlfr.web.watchlist_pages`) call the same helpers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePath
from typing import Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, UploadFile
from pydantic import BaseModel, Field

from openlfr.api import roles
from openlfr.api.auth import actor_of
from openlfr.api.deps import get_store, require_roles
from openlfr.api.users import Principal
from openlfr.governance.audit import Actor
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlist_approval import approve_entry, pending_entries, reject_entry
from openlfr.governance.watchlists import (
    ImportReport,
    ReferenceImage,
    SubjectEntry,
    enrol_subject,
    import_watchlist,
    parse_date,
    parse_time,
)
from openlfr.store import Store

router = APIRouter(prefix="/api/deployments/{deployment_id}/watchlist", tags=["watchlist"])
MAX_FILES = 200
"""Most files one upload may carry (an import's images; a subject's reference images)."""


def _doc(allowed: tuple[Any, ...], extra: str) -> str:
    return extra + " Roles: " + ", ".join(r.value for r in allowed) + "."


class RejectIn(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000)


def _safe_name(name: str | None) -> str:
    """An uploaded file's own name, with any folders a browser or client put in front of it removed."""
    base = PurePath((name or "").replace("\\", "/")).name
    if not base or base in (".", "..") or base.startswith("."):
        raise GovernanceError(f"uploaded file name {name!r} is not usable")
    return base


async def read_uploads(store: Store, files: Sequence[UploadFile]) -> list[ReferenceImage]:
    """The uploaded images in memory, refused if too many or too large (before decoding anything)."""
    if len(files) > MAX_FILES:
        raise GovernanceError(f"at most {MAX_FILES} files per upload, got {len(files)}")
    limit = store.settings.vision.max_image_bytes
    out = []
    for f in files:
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise GovernanceError(f"{f.filename}: larger than {limit} bytes")
        out.append(ReferenceImage(_safe_name(f.filename), data))
    return out


def report_dict(
    store: Store, report: ImportReport, subject_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """The enrolment's result with its quality report: refused images and why, and the quality score of
    every image enrolled (from the entries now waiting for approval)."""
    pending = pending_entries(store, report.deployment_id)
    if subject_ids is not None:
        pending = [p for p in pending if p.subject_id in subject_ids]
    return {
        "deployment_id": report.deployment_id,
        "subjects_enrolled": report.subjects_enrolled,
        "images_enrolled": report.images_enrolled,
        "pending_approval": True,
        "refused": [
            {"subject_id": r.subject_id, "image": r.image, "reason": r.reason} for r in report.refused
        ],
        "lookalikes": [str(r) for r in report.lookalikes],
        "entries": [p.as_dict() for p in pending],
    }


def enrol_from_upload(
    store: Store,
    actor: Actor,
    deployment_id: str,
    fields: dict[str, str],
    images: list[ReferenceImage],
    lookalike_reason: str | None,
) -> ImportReport:
    """Enrol one subject from form fields and uploaded images; held for a second person's approval."""
    dob = fields.get("date_of_birth", "").strip()
    entry = SubjectEntry(
        subject_id=fields["subject_id"],
        category=fields["category"],
        reason=fields["reason"],
        image_source=fields["image_source"],
        legal_basis=fields["legal_basis"],
        approved_by=fields["approved_by"],
        expires_at=parse_time(fields["expires_at"], "expiry"),
        name=fields.get("name", "").strip() or None,
        date_of_birth=parse_date(dob, "date of birth") if dob else None,
        offence_seriousness=fields.get("offence_seriousness", "").strip() or None,
        needs_approval=True,
    )
    if not images:
        raise GovernanceError("upload at least one reference image")
    return enrol_subject(
        store, actor, deployment_id, entry, images, lookalike_reason=(lookalike_reason or "").strip() or None
    )


def import_from_upload(
    store: Store,
    actor: Actor,
    deployment_id: str,
    csv_data: bytes,
    images: list[ReferenceImage],
    allow_partial: bool,
    lookalike_reason: str | None,
) -> ImportReport:
    """Import a watchlist CSV with its images. The files pass through a private folder (0700) inside the data
    folder for the CSV reader, deleted straight after, whatever happens."""
    names = [i.label for i in images]
    if len(set(names)) != len(names):
        raise GovernanceError("two uploaded images have the same name")
    staging = store.settings.data_dir / "uploads"
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="import-", dir=staging))
    try:
        for img in images:
            fd = os.open(folder / img.label, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(img.data)
        (folder / "watchlist.csv").write_bytes(csv_data)
        return import_watchlist(
            store,
            actor,
            deployment_id,
            folder / "watchlist.csv",
            folder,
            allow_partial=allow_partial,
            lookalike_reason=(lookalike_reason or "").strip() or None,
            needs_approval=True,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def entry_form(
    subject_id: str = Form(..., max_length=200),
    category: str = Form(..., max_length=200),
    reason: str = Form(..., max_length=2000),
    image_source: str = Form(..., max_length=2000),
    legal_basis: str = Form(..., max_length=2000),
    approved_by: str = Form(..., max_length=200),
    expires_at: str = Form(..., max_length=64),
    name: str = Form("", max_length=200),
    date_of_birth: str = Form("", max_length=32),
    offence_seriousness: str = Form("", max_length=64),
) -> dict[str, str]:
    """A watchlist entry's fields from a multipart form (the API's and the console's enrolment)."""
    return {
        "subject_id": subject_id,
        "category": category,
        "reason": reason,
        "image_source": image_source,
        "legal_basis": legal_basis,
        "approved_by": approved_by,
        "expires_at": expires_at,
        "name": name,
        "date_of_birth": date_of_birth,
        "offence_seriousness": offence_seriousness,
    }


@router.post(
    "/entries",
    status_code=201,
    description=_doc(
        roles.ENROL_WATCHLIST,
        "Enrol one subject (multipart form: the entry's fields and one or more `images`). Refused images are "
        "listed with the reason; enrolled entries wait for a second person's approval.",
    ),
)
async def enrol(
    deployment_id: str,
    fields: dict[str, str] = Depends(entry_form),
    lookalike_reason: str = Form("", max_length=2000),
    images: list[UploadFile] = File(...),
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.ENROL_WATCHLIST)),
) -> dict[str, Any]:
    uploads = await read_uploads(store, images)
    report = enrol_from_upload(store, actor_of(principal), deployment_id, fields, uploads, lookalike_reason)
    return report_dict(store, report, [fields["subject_id"].strip()])


@router.post(
    "/import",
    status_code=201,
    description=_doc(
        roles.ENROL_WATCHLIST,
        "Import a whole watchlist (multipart: `csv` and the `images` it names). All or nothing unless "
        "`allow_partial`; enrolled entries wait for a second person's approval.",
    ),
)
async def import_csv(
    deployment_id: str,
    csv: UploadFile = File(...),
    images: list[UploadFile] = File(...),
    allow_partial: bool = Form(False),
    lookalike_reason: str = Form("", max_length=2000),
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.ENROL_WATCHLIST)),
) -> dict[str, Any]:
    csv_data = await csv.read(10 * 1024 * 1024 + 1)
    if len(csv_data) > 10 * 1024 * 1024:
        raise HTTPException(413, "the CSV is larger than 10 MB")
    uploads = await read_uploads(store, images)
    report = import_from_upload(
        store, actor_of(principal), deployment_id, csv_data, uploads, allow_partial, lookalike_reason
    )
    return report_dict(store, report)


@router.get(
    "/pending",
    description=_doc(roles.VIEW_WATCHLIST_ENTRIES, "Entries waiting for approval, with their image quality."),
)
def pending(
    deployment_id: str,
    store: Store = Depends(get_store),
    _p: Principal = Depends(require_roles(*roles.VIEW_WATCHLIST_ENTRIES)),
) -> list[dict[str, Any]]:
    return [p.as_dict() for p in pending_entries(store, deployment_id)]


@router.post(
    "/entries/{subject_id}/approve",
    description=_doc(
        roles.APPROVE_WATCHLIST,
        "Approve an entry someone else enrolled; it is searched from the next watchlist load. Audited.",
    ),
)
def approve(
    deployment_id: str,
    subject_id: str,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.APPROVE_WATCHLIST)),
) -> dict[str, Any]:
    approve_entry(store, actor_of(principal), deployment_id, subject_id)
    return {"deployment_id": deployment_id, "subject_id": subject_id, "approved_by": principal.username}


@router.post(
    "/entries/{subject_id}/reject",
    description=_doc(
        roles.APPROVE_WATCHLIST, "Reject a pending entry: it is deleted with its images. Audited."
    ),
)
def reject(
    deployment_id: str,
    subject_id: str,
    body: RejectIn,
    store: Store = Depends(get_store),
    principal: Principal = Depends(require_roles(*roles.APPROVE_WATCHLIST)),
) -> dict[str, Any]:
    deleted = reject_entry(store, actor_of(principal), deployment_id, subject_id, body.reason)
    return {"deployment_id": deployment_id, "subject_id": subject_id, "images_deleted": deleted}
