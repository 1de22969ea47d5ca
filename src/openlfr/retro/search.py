"""RFR cases and searches with two-reviewer decisions, their retention and purge, and OIFR searches.

RFR: a case is opened with a reference and reason; each search of probe media names its reason and is
audited with who ran it. Every face (image) or track (video) gets one ranked candidate list, each candidate
with its score, rank and what the pack's calibration says about that score. A person decides: each reviewer
records possible match / no match / inconclusive per candidate, and a possible match is reported only when
a second, different reviewer agrees. Probe crops are encrypted under the case's own key; when the case's
retention ends its probes, lists, decisions and key are purged (audited).

OIFR: one photo, a reason from a closed list, the top ``retro.oifr_top_k`` records. The photo and its
template exist only in memory for the search and are overwritten before the list is returned; the audit
entry holds the officer, reason, time and the record ids returned, never the face.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import NotFound
from openlfr.governance.retention import service_identity
from openlfr.matching.calibration import Calibration, CalibrationError, load_calibration
from openlfr.retro.gallery import GalleryCandidate, gallery_key, get_gallery, search_gallery
from openlfr.retro.media import ProbeFace, Progress, RetroError, analyse_media
from openlfr.store import Store, utcnow
from openlfr.store.blobs import case_blob_folder
from openlfr.store.crypto import DataKey, KeyDestroyed, new_data_key
from openlfr.store.db import case_key_label
from openlfr.store.models import (
    OIFR_REASONS,
    REVIEW_DECISIONS,
    Gallery,
    GalleryTemplate,
    RetroCandidate,
    RetroCase,
    RetroDecision,
    RetroProbe,
)
from openlfr.vision.engine import FaceEngine, best_face
from openlfr.vision.image_io import ImageError, load_image

Clock = Callable[[], datetime]


# --- what the calibration says about a score ---------------------------------------------------------


def describe_score(cal: Calibration | None, score: float, gallery_size: int) -> str:
    """In words: which calibrated thresholds (FPIR targets at this gallery's size) the score reaches."""
    if cal is None:
        return "no calibration for this pack: the score cannot be interpreted"
    fpirs = sorted({p.fpir for p in cal.points}, reverse=True)
    parts = []
    largest = max((p.watchlist_size for p in cal.points), default=0)
    for fpir in fpirs:
        try:
            t = cal.threshold_for(fpir, max(gallery_size, 1))
        except CalibrationError:
            continue
        side = "above" if score >= t else "below"
        parts.append(f"{side} the FPIR {fpir:.2%} threshold ({t:.3f})")
    if parts and gallery_size > largest:
        # A larger gallery needs a stricter threshold than any calibrated: the words must not overstate.
        parts.append(f"calibrated up to {largest:,} entries, the gallery holds {gallery_size:,}")
    if not parts:
        side = "above" if score >= cal.validated_min_threshold else "below"
        return f"{side} the validated minimum threshold ({cal.validated_min_threshold:.3f})"
    return "; ".join(parts)


def _calibration(store: Store, gallery: Gallery) -> Calibration | None:
    try:
        return load_calibration(gallery.pack, store.settings.data_dir)
    except CalibrationError:
        return None


def _gallery_size(store: Store, gallery: Gallery) -> int:
    from sqlalchemy import func

    with store.session() as s:
        return int(
            s.scalar(
                select(func.count(func.distinct(GalleryTemplate.record_id))).where(
                    GalleryTemplate.gallery_id == gallery.id
                )
            )
            or 0
        )


# --- cases -------------------------------------------------------------------------------------------


_case_label = case_key_label


case_folder = case_blob_folder


@dataclass(frozen=True)
class CaseInfo:
    id: str
    reference: str
    reason: str
    opened_by: str
    opened_at: datetime
    retain_until: datetime
    purged_at: datetime | None


def _info(c: RetroCase) -> CaseInfo:
    return CaseInfo(c.id, c.reference, c.reason, c.opened_by, c.opened_at, c.retain_until, c.purged_at)


def _need_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise RetroError(f"{what} needs a reason (why this search is necessary and proportionate)")
    return reason.strip()


def open_case(
    store: Store, reference: str, reason: str, actor: ActorLike, *, clock: Clock = utcnow
) -> CaseInfo:
    reference = reference.strip()
    if not reference:
        raise RetroError("a case needs a reference")
    reason = _need_reason(reason, "a case")
    now = clock()
    with store.session() as s:
        if s.scalar(select(RetroCase).where(RetroCase.reference == reference)) is not None:
            raise RetroError(f"case {reference!r} already exists")
        c = RetroCase(
            reference=reference,
            reason=reason,
            opened_by=str(audit.as_actor(actor)),
            opened_at=now,
            retain_until=now + timedelta(days=store.settings.retro.case_retention_days),
        )
        s.add(c)
        s.flush()
        c.wrapped_key = store.keys.master.wrap(new_data_key(), _case_label(c.id))
        audit.record(s, actor, "retro.case.open", target=reference, details={"reason": reason}, at=now)
        return _info(c)


def _get_case(s: Any, reference: str) -> RetroCase:
    c = s.scalar(select(RetroCase).where(RetroCase.reference == reference))
    if c is None:
        raise NotFound(f"no case {reference!r} (open it first with `openlfr retro case open`)")
    if c.purged_at is not None or c.wrapped_key is None:
        raise RetroError(f"case {reference!r} was purged at the end of its retention period")
    return c


def get_case(store: Store, reference: str) -> CaseInfo:
    with store.session() as s:
        c = s.scalar(select(RetroCase).where(RetroCase.reference == reference))
        if c is None:
            raise NotFound(f"no case {reference!r} (open it first with `openlfr retro case open`)")
        return _info(c)


# --- RFR search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateOut:
    id: str | None
    record_id: str
    score: float
    rank: int
    calibration: str
    template_id: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "record_id": self.record_id,
            "score": round(self.score, 4),
            "rank": self.rank,
            "calibration": self.calibration,
        }


@dataclass
class FaceOut:
    probe_id: str | None
    media: str
    face_index: int
    frame_index: int | None
    box: list[float]
    quality: float
    low_quality: tuple[str, ...]
    candidates: list[CandidateOut] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "probe_id": self.probe_id,
            "media": self.media,
            "face_index": self.face_index,
            "frame_index": self.frame_index,
            "box": self.box,
            "quality": round(self.quality, 3),
            "low_quality": list(self.low_quality),
            "candidates": [c.as_dict() for c in self.candidates],
        }


def _fuse(lists: Sequence[list[GalleryCandidate]], k: int) -> list[tuple[str, int, float]]:
    """One list from a track's best shots: each record at its best score over the shots."""
    best: dict[str, tuple[int, float]] = {}
    for cands in lists:
        for c in cands:
            if c.record_id not in best or c.score > best[c.record_id][1]:
                best[c.record_id] = (c.template_id, c.score)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][1])[:k]
    return [(rec, tid, sc) for rec, (tid, sc) in ranked]


def _search_faces(
    store: Store, gallery: Gallery, key: DataKey, faces: Sequence[ProbeFace], k: int
) -> list[list[tuple[str, int, float]]]:
    out = []
    for f in faces:
        per_shot = search_gallery(store, gallery, key, np.stack(f.embeddings), k)
        out.append(_fuse(per_shot, k))
    return out


def rfr_search(
    store: Store,
    engine: FaceEngine,
    case_reference: str,
    reason: str | None,
    media: Sequence[Path],
    actor: ActorLike,
    *,
    gallery_name: str | None = None,
    k: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    clock: Clock = utcnow,
) -> list[FaceOut]:
    """Search every face of ``media`` against the gallery for a case. All media are analysed before
    anything is stored, so a bad file, no face or a cancel leaves nothing half-stored."""
    why = _need_reason(reason, "an RFR search")
    if not media:
        raise RetroError("an RFR search needs at least one image or video")
    k = k or store.settings.retro.rfr_top_k
    with store.session() as s:
        case = _get_case(s, case_reference)
        gallery = get_gallery(s, gallery_name or store.settings.retro.gallery)
    if gallery.pack != engine.pack.name:
        raise RetroError(f"gallery {gallery.name!r} holds {gallery.pack} templates, not {engine.pack.name}")
    faces: list[ProbeFace] = []
    for path in media:
        faces.extend(analyse_media(engine, Path(path), store.settings, progress=progress, cancel=cancel))
    gkey = gallery_key(store, gallery)
    lists = _search_faces(store, gallery, gkey, faces, k)
    cal = _calibration(store, gallery)
    size = _gallery_size(store, gallery)
    assert case.wrapped_key is not None
    ckey = store.key_ring(_case_label(case.id), case.wrapped_key)
    now = clock()
    results: list[FaceOut] = []
    blobs: list[str] = []
    try:
        with store.session() as s:
            for f, cands in zip(faces, lists, strict=True):
                blob = store.blobs.put(case_folder(case.id), ckey, f.crop_jpeg)
                blobs.append(blob)
                p = RetroProbe(
                    case_id=case.id,
                    media_name=Path(f.media_name).name,
                    media_sha256=f.media_sha256,
                    face_index=f.face_index,
                    frame_index=f.frame_index,
                    box=f.box,
                    quality_score=f.quality,
                    probe_blob=blob,
                    reason=why,
                    searched_by=str(audit.as_actor(actor)),
                    searched_at=now,
                )
                s.add(p)
                s.flush()
                fo = FaceOut(p.id, p.media_name, f.face_index, f.frame_index, f.box, f.quality, f.low_quality)
                for rank, (rec, tid, score) in enumerate(cands, start=1):
                    c = RetroCandidate(
                        probe_id=p.id,
                        rank=rank,
                        record_id=rec,
                        template_id=tid,
                        score=score,
                        calibration=describe_score(cal, score, size),
                    )
                    s.add(c)
                    s.flush()
                    fo.candidates.append(CandidateOut(c.id, rec, score, rank, c.calibration, tid))
                results.append(fo)
            audit.record(
                s,
                actor,
                "retro.search",
                target=case.reference,
                details={
                    "reason": why,
                    "media": [Path(m).name for m in media],
                    "faces": len(faces),
                    "gallery": gallery.name,
                    "top_k": k,
                },
                at=now,
            )
    except BaseException:
        store.blobs.delete_many(case_folder(case.id), blobs)  # the rows rolled back: their crops go too
        raise
    return results


# --- review ------------------------------------------------------------------------------------------


def candidate_status(decisions: Sequence[tuple[str, str]]) -> str:
    """From ``(reviewer, decision)`` pairs: ``reported`` (two reviewers said possible match),
    ``awaiting second review``, ``no match``, ``inconclusive``, ``disputed`` or ``not reviewed``."""
    if not decisions:
        return "not reviewed"
    kinds = [d for _, d in decisions]
    possible = {r for r, d in decisions if d == "possible_match"}
    if len(possible) >= 2 and len(set(kinds)) == 1:
        return "reported possible match"
    if len(set(kinds)) > 1:
        return "disputed"
    if kinds[0] == "possible_match":
        return "awaiting second review"
    return REVIEW_DECISIONS[kinds[0]]


def review_candidate(
    store: Store,
    candidate_id: str,
    decision: str,
    reviewer: ActorLike,
    note: str | None = None,
    *,
    clock: Clock = utcnow,
) -> str:
    """Record one reviewer's decision; returns the candidate's status after it."""
    key = decision.strip().lower().replace(" ", "_")
    if key not in REVIEW_DECISIONS:
        raise RetroError(f"unknown decision {decision!r}: use one of {', '.join(REVIEW_DECISIONS)}")
    who = audit.as_actor(reviewer)
    now = clock()
    try:
        with store.session() as s:
            c = s.get(RetroCandidate, candidate_id)
            if c is None:
                raise NotFound(f"no candidate {candidate_id!r}")
            probe = s.get(RetroProbe, c.probe_id)
            assert probe is not None
            case = s.get(RetroCase, probe.case_id)
            assert case is not None
            if case.purged_at is not None:
                raise RetroError(f"case {case.reference!r} was purged")
            s.add(
                RetroDecision(candidate_id=c.id, reviewer=str(who), decision=key, note=note, decided_at=now)
            )
            s.flush()
            decisions = s.execute(
                select(RetroDecision.reviewer, RetroDecision.decision).where(
                    RetroDecision.candidate_id == c.id
                )
            ).all()
            status = candidate_status([(str(r), str(d)) for r, d in decisions])
            audit.record(
                s,
                who,
                "retro.review",
                target=case.reference,
                details={
                    "candidate": c.id,
                    "record_id": c.record_id,
                    "decision": key,
                    "status": status,
                    "note": note,
                },
                at=now,
            )
            return status
    except IntegrityError as exc:
        raise RetroError(
            f"{who} has already decided on candidate {candidate_id}: a second decision must come from another reviewer"
        ) from exc


def case_results(store: Store, reference: str, actor: ActorLike | None = None) -> dict[str, Any]:
    """A case's faces and candidate lists with each candidate's decisions and status (no images).
    ``reported`` lists only the possible matches two reviewers agreed on."""
    with store.session() as s:
        case = _get_case(s, reference)
        probes = s.scalars(
            select(RetroProbe)
            .where(RetroProbe.case_id == case.id)
            .order_by(RetroProbe.searched_at, RetroProbe.face_index)
        ).all()
        faces = []
        reported = []
        for p in probes:
            cands = s.scalars(
                select(RetroCandidate).where(RetroCandidate.probe_id == p.id).order_by(RetroCandidate.rank)
            ).all()
            rows = []
            for c in cands:
                ds = s.execute(
                    select(RetroDecision.reviewer, RetroDecision.decision).where(
                        RetroDecision.candidate_id == c.id
                    )
                ).all()
                status = candidate_status([(str(r), str(d)) for r, d in ds])
                row = {
                    "id": c.id,
                    "record_id": c.record_id,
                    "score": round(c.score, 4),
                    "rank": c.rank,
                    "calibration": c.calibration,
                    "decisions": [{"reviewer": r, "decision": d} for r, d in ds],
                    "status": status,
                }
                rows.append(row)
                if status == "reported possible match":
                    reported.append({"probe_id": p.id, **row})
            faces.append(
                {
                    "probe_id": p.id,
                    "media": p.media_name,
                    "face_index": p.face_index,
                    "frame_index": p.frame_index,
                    "box": p.box,
                    "quality": round(p.quality_score, 3),
                    "searched_by": p.searched_by,
                    "searched_at": p.searched_at.isoformat(),
                    "reason": p.reason,
                    "candidates": rows,
                }
            )
        if actor is not None:
            audit.record(s, actor, "retro.case.view", target=reference, details={"faces": len(faces)})
    return {
        "case": reference,
        "reason": case.reason,
        "retain_until": case.retain_until.isoformat(),
        "faces": faces,
        "reported": reported,
    }


def probe_image(store: Store, probe_id: str, actor: ActorLike) -> bytes:
    """A probe's face crop (decrypted), audited."""
    with store.session() as s:
        p = s.get(RetroProbe, probe_id)
        if p is None or p.probe_blob is None:
            raise NotFound(f"no probe image {probe_id!r}")
        case = s.get(RetroCase, p.case_id)
        assert case is not None
        if case.wrapped_key is None:
            raise KeyDestroyed(f"case {case.reference!r} was purged")
        audit.record(s, actor, "retro.probe.read", target=case.reference, details={"probe": probe_id})
        blob, cid, wrapped = p.probe_blob, case.id, case.wrapped_key
    key = store.key_ring(_case_label(cid), wrapped)
    return store.blobs.get(case_folder(cid), blob, key)


# --- retention ---------------------------------------------------------------------------------------


def _undecided_probes(s: Session, case_id: str) -> int:
    """Probes of the case with a candidate list on which no reviewer has decided anything."""
    decided = (
        select(RetroCandidate.probe_id)
        .join(RetroDecision, RetroDecision.candidate_id == RetroCandidate.id)
        .join(RetroProbe, RetroProbe.id == RetroCandidate.probe_id)
        .where(RetroProbe.case_id == case_id)
    )
    q = (
        select(func.count(func.distinct(RetroCandidate.probe_id)))
        .join(RetroProbe, RetroProbe.id == RetroCandidate.probe_id)
        .where(RetroProbe.case_id == case_id, RetroCandidate.probe_id.not_in(decided))
    )
    return int(s.scalar(q) or 0)


def purge_cases(store: Store, actor: ActorLike | None = None, *, clock: Clock = utcnow) -> list[str]:
    """Purge every case past its retention: probe crops, candidate lists, decisions and the case key.
    The case row stays as a record (reference, reason, who, when). Returns the references purged. Audited as
    ``actor``: the logged-in user of a manual purge, by default the scheduled purge's service identity."""
    actor = actor if actor is not None else service_identity(store.settings)
    now = clock()
    purged: list[str] = []
    with store.session() as s:
        due = s.scalars(
            select(RetroCase).where(RetroCase.purged_at.is_(None), RetroCase.retain_until <= now)
        ).all()
        for c in due:
            # Issue 25: a case with candidate lists nobody decided on goes to a supervisor first, and is
            # kept until the escalation period (fixed when escalated) has passed.
            waiting = _undecided_probes(s, c.id)
            if waiting and (c.escalation_ends_at is None or now < c.escalation_ends_at):
                if c.escalated_at is None:
                    c.escalated_at = now
                    c.escalation_ends_at = now + timedelta(hours=store.settings.retention.escalation_hours)
                    audit.record(
                        s,
                        actor,
                        "retro.case.escalate",
                        target=c.reference,
                        at=now,
                        details={
                            "to": "supervisor",
                            "undecided_probes": waiting,
                            "retain_until": c.retain_until.isoformat(),
                            "kept_until_at_least": c.escalation_ends_at.isoformat(),
                        },
                    )
                continue
            probes = s.scalars(select(RetroProbe).where(RetroProbe.case_id == c.id)).all()
            ids = [p.id for p in probes]
            if ids:
                cand = select(RetroCandidate.id).where(RetroCandidate.probe_id.in_(ids))
                s.execute(delete(RetroDecision).where(RetroDecision.candidate_id.in_(cand)))
                s.execute(delete(RetroCandidate).where(RetroCandidate.probe_id.in_(ids)))
                s.execute(delete(RetroProbe).where(RetroProbe.id.in_(ids)))
            c.wrapped_key = None  # the key goes: any copy of a crop (backups included) is unreadable
            store.keys.destroy_generations(s, _case_label(c.id), now)  # and those rotations started
            c.purged_at = now
            audit.record(
                s,
                actor,
                "retro.case.purge",
                target=c.reference,
                details={"probes": len(ids), "undecided_probes": waiting},
                at=now,
            )
            purged.append(c.reference)
            store.blobs.delete_deployment(case_folder(c.id))
    return purged


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

    def as_dict(self) -> dict[str, Any]:
        return {
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
        out = [
            CandidateOut(
                None, c.record_id, c.score, c.rank, describe_score(cal, c.score, size), c.template_id
            )
            for c in cands
        ]
        with store.session() as s:
            audit.record(
                s,
                officer,
                "oifr.search",
                target=gallery.name,
                details={"reason": key, "candidates": [c.record_id for c in out], "top_k": k},
                at=now,
            )
        q = face.quality
        return OifrResult(key, now, out, float(q.score) if q else 0.0, tuple(q.reasons) if q else ())
    finally:
        # The probe is gone as soon as the list exists: overwrite every copy we hold, not just drop it.
        photo[:] = b"\0" * len(photo)
        if image is not None:
            image.fill(0)
        for f in faces:  # every face in the photo, not only the one searched
            if f.embedding is not None:
                f.embedding.fill(0)
