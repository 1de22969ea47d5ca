"""OIFR: one photo, a reason from a closed list, the top ``retro.oifr_top_k`` records. The photo and its
template exist only in memory for the search and are overwritten before the list is returned; the audit
entry holds the officer, reason, time and the record ids returned, never the face. The officer records the
outcome against the search; lists left without one are chased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import NotFound
from openlfr.retro.candidates import (
    CandidateOut,
    _calibration,
    _gallery_size,
    describe_score,
    template_flags,
)
from openlfr.retro.cases import (
    Clock,
    UseSwitchedOff,
    require_enabled,
)
from openlfr.retro.gallery_keys import gallery_key, get_gallery
from openlfr.retro.gallery_records import search_gallery
from openlfr.retro.media import RetroError
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import Role
from openlfr.store.models import (
    OIFR_OUTCOMES,
    OIFR_REASONS,
    OifrSearch,
)
from openlfr.vision.engine import FaceEngine, best_face
from openlfr.vision.image_io import ImageError, load_image

# --- OIFR --------------------------------------------------------------------------------------------


def parse_oifr_reason(value: str) -> str:
    key = (value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if key not in OIFR_REASONS:
        raise RetroError(
            f"reason {value!r} is not one of the OIFR reasons: {', '.join(OIFR_REASONS)}"
            if value and value.strip()
            else f"an OIFR search needs a reason, one of: {', '.join(OIFR_REASONS)}"
        )
    return key


@dataclass
class OifrResult:
    reason: str
    searched_at: datetime
    candidates: list[CandidateOut]
    quality: float
    low_quality: tuple[str, ...]
    id: str = ""
    """The search's record (``OifrSearch``): the officer records the outcome against it."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reason": self.reason,
            "searched_at": self.searched_at.isoformat(),
            "faces": [
                {
                    "quality": round(self.quality, 3),
                    "low_quality": list(self.low_quality),
                    "candidates": [c.as_dict() for c in self.candidates],
                }
            ],
        }


def oifr_search(
    store: Store,
    engine: FaceEngine,
    photo: bytearray,
    reason: str,
    officer: ActorLike,
    *,
    gallery_name: str | None = None,
    k: int | None = None,
    clock: Clock = utcnow,
) -> OifrResult:
    """Search one photographed person. ``photo`` is a ``bytearray`` so that it can be overwritten: it is
    zeroed, as are the decoded image and the template, before this returns (also on error)."""
    key = parse_oifr_reason(reason)
    k = k or store.settings.retro.oifr_top_k
    try:
        require_enabled(store.settings, "oifr")
    except UseSwitchedOff:
        photo[:] = b"\0" * len(photo)  # refused, and the photo goes as it would after a search
        raise
    image = None
    faces: list[Any] = []
    try:
        with store.session() as s:
            gallery = get_gallery(s, gallery_name or store.settings.retro.gallery)
        if gallery.pack != engine.pack.name:
            raise RetroError(
                f"gallery {gallery.name!r} holds {gallery.pack} templates, not {engine.pack.name}"
            )
        vs = store.settings.vision
        try:
            image = load_image(
                bytes(photo), name="photo", max_pixels=vs.max_image_pixels, max_bytes=vs.max_image_bytes
            )
        except ImageError as exc:
            raise RetroError(f"the photo cannot be used: {exc}") from exc
        faces = engine.analyse(image) or engine.analyse(image, pad=0.5)
        face = best_face(faces, image.shape)
        if face is None or face.embedding is None:
            raise RetroError("no face found in the photo: take it again, closer and facing the camera")
        template = face.embedding
        gkey = gallery_key(store, gallery)
        cands = search_gallery(store, gallery, gkey, template[None, :], k)[0]
        cal = _calibration(store, gallery)
        size = _gallery_size(store, gallery)
        now = clock()
        flags = template_flags(store, [c.template_id for c in cands])
        out = [
            CandidateOut(
                None,
                c.record_id,
                c.score,
                c.rank,
                describe_score(cal, c.score, size),
                c.template_id,
                flags.get(c.template_id, ()),
            )
            for c in cands
        ]
        with store.session() as s:
            row = OifrSearch(
                gallery=gallery.name,
                reason=key,
                officer=str(audit.as_actor(officer)),
                searched_at=now,
                candidates=[c.record_id for c in out],
            )
            s.add(row)
            s.flush()
            audit.record(
                s,
                officer,
                "oifr.search",
                target=gallery.name,
                details={
                    "search": row.id,
                    "reason": key,
                    "candidates": [c.record_id for c in out],
                    "top_k": k,
                },
                at=now,
            )
            search_id = row.id
        q = face.quality
        return OifrResult(
            key, now, out, float(q.score) if q else 0.0, tuple(q.reasons) if q else (), search_id
        )
    finally:
        # The probe is gone as soon as the list exists: overwrite every copy we hold, not just drop it.
        photo[:] = b"\0" * len(photo)
        if image is not None:
            image.fill(0)
        for f in faces:  # every face in the photo, not only the one searched
            if f.embedding is not None:
                f.embedding.fill(0)


def parse_oifr_outcome(value: str) -> str:
    key = (value or "").strip().lower().replace(" ", "_").replace("-", "_")
    if key not in OIFR_OUTCOMES:
        raise RetroError(f"unknown outcome {value!r}: use one of {', '.join(OIFR_OUTCOMES)}")
    return key


def record_oifr_outcome(
    store: Store,
    search_id: str,
    outcome: str,
    actor: ActorLike,
    *,
    record_id: str | None = None,
    clock: Clock = utcnow,
) -> dict[str, Any]:
    """The officer's conclusion on an OIFR list: ``identified`` (as ``record_id``, which must be on the
    list), ``not_identified`` or ``inconclusive``, with the time; audited and counted. Recorded once, by
    the officer who searched or a supervisor (authorising officer)."""
    require_enabled(store.settings, "oifr")
    key = parse_oifr_outcome(outcome)
    rec = (record_id or "").strip() or None
    if key == "identified" and rec is None:
        raise RetroError("'identified' needs the record the person was identified as (--record)")
    if key != "identified" and rec is not None:
        raise RetroError(f"a record is named only when the person was identified, not for {key!r}")
    who = audit.as_actor(actor)
    now = clock()
    with store.session() as s:
        row = s.get(OifrSearch, search_id)
        if row is None:
            raise NotFound(f"no OIFR search {search_id!r}")
        if row.outcome is not None:
            raise RetroError(
                f"the outcome of OIFR search {search_id} is already recorded ({OIFR_OUTCOMES[row.outcome]})"
            )
        if who.name != audit.as_actor(row.officer).name and who.role != Role.AUTHORISING_OFFICER.value:
            raise RetroError("only the officer who ran the search, or a supervisor, may record its outcome")
        if rec is not None and rec not in row.candidates:
            raise RetroError(f"record {rec!r} was not on the list this search returned")
        row.outcome, row.outcome_record, row.outcome_by, row.outcome_at = key, rec, str(who), now
        audit.record(
            s,
            who,
            "oifr.outcome",
            target=row.gallery,
            details={"search": row.id, "outcome": key, "record_id": rec, "reason": row.reason},
            at=now,
        )
        return {"id": row.id, "outcome": key, "record_id": rec, "recorded_at": now.isoformat()}


@dataclass(frozen=True)
class UnansweredOifr:
    id: str
    officer: str
    reason: str
    searched_at: datetime


def unanswered_oifr(store: Store, *, clock: Clock = utcnow) -> list[UnansweredOifr]:
    """OIFR lists with no recorded outcome after ``retro.oifr_outcome_chase_hours``, oldest first: the
    supervisor view lists them to be chased."""
    cutoff = clock() - timedelta(hours=store.settings.retro.oifr_outcome_chase_hours)
    with store.session() as s:
        rows = s.scalars(
            select(OifrSearch)
            .where(OifrSearch.outcome.is_(None), OifrSearch.searched_at <= cutoff)
            .order_by(OifrSearch.searched_at)
        ).all()
        return [UnansweredOifr(r.id, r.officer, r.reason, r.searched_at) for r in rows]
