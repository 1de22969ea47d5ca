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

import secrets
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

from openlfr.config import Settings
from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.categories import parse_choice
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.retention import service_identity
from openlfr.matching.calibration import Calibration, CalibrationError, load_calibration
from openlfr.retro.gallery import GalleryCandidate, gallery_key, get_gallery, search_gallery
from openlfr.retro.media import ProbeFace, Progress, RetroError, analyse_media
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import Role
from openlfr.store.blobs import case_blob_folder
from openlfr.store.crypto import DataKey, KeyDestroyed, new_data_key
from openlfr.store.db import case_key_label
from openlfr.store.models import (
    CRIME_CATEGORIES,
    INVESTIGATION_OUTCOMES,
    MEDIA_PROVENANCE,
    OIFR_OUTCOMES,
    OIFR_REASONS,
    REVIEW_DECISIONS,
    Gallery,
    GalleryTemplate,
    OifrSearch,
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


# --- switches ----------------------------------------------------------------------------------------


class UseSwitchedOff(RetroError):
    """RFR or OIFR is switched off in this force's settings: every path refuses with this message."""


def require_enabled(settings: Settings, use: str) -> None:
    """Refuse when ``use`` (``rfr`` or ``oifr``) is switched off (``[retro] rfr_enabled``/``oifr_enabled``)."""
    on = settings.retro.rfr_enabled if use == "rfr" else settings.retro.oifr_enabled
    if not on:
        what = (
            "Retrospective facial recognition (RFR)"
            if use == "rfr"
            else "Operator-initiated facial recognition (OIFR)"
        )
        raise UseSwitchedOff(
            f"{what} is switched off for this force ([retro] {use}_enabled = false): nothing was searched"
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
    policy_ref: str | None = None
    dpia_ref: str | None = None
    crime_category: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None


def _info(c: RetroCase) -> CaseInfo:
    return CaseInfo(
        c.id,
        c.reference,
        c.reason,
        c.opened_by,
        c.opened_at,
        c.retain_until,
        c.purged_at,
        c.policy_ref,
        c.dpia_ref,
        c.crime_category,
        c.closed_by,
        c.closed_at,
        c.close_reason,
    )


def need_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise RetroError(f"{what} needs a reason (why this search is necessary and proportionate)")
    return reason.strip()


def _closed_choice(value: str | None, choices: dict[str, str], what: str) -> str:
    if value is None or not value.strip():
        raise RetroError(f"{what} is required: one of {', '.join(choices)}")
    try:
        return parse_choice(value, choices, what)
    except GovernanceError as exc:
        raise RetroError(str(exc)) from exc


def parse_crime_category(value: str | None) -> str:
    return _closed_choice(value, CRIME_CATEGORIES, "crime category")


def parse_provenance(value: str | None) -> str:
    return _closed_choice(value, MEDIA_PROVENANCE, "media provenance")


def open_case(
    store: Store,
    reference: str,
    reason: str,
    actor: ActorLike,
    *,
    crime_category: str | None,
    policy_ref: str | None = None,
    dpia_ref: str | None = None,
    clock: Clock = utcnow,
) -> CaseInfo:
    """Open a case under a policy and DPIA (``retro.policy_ref``/``dpia_ref`` when not named) and a crime
    category (closed list ``CRIME_CATEGORIES``, what the published totals count it under)."""
    require_enabled(store.settings, "rfr")
    reference = reference.strip()
    if not reference:
        raise RetroError("a case needs a reference")
    reason = need_reason(reason, "a case")
    category = parse_crime_category(crime_category)
    rs = store.settings.retro
    policy = (policy_ref or "").strip() or rs.policy_ref.strip()
    dpia = (dpia_ref or "").strip() or rs.dpia_ref.strip()
    if not policy or not dpia:
        raise RetroError(
            "a case needs the policy and the DPIA it is searched under: name them (--policy-ref, --dpia-ref) "
            "or set [retro] policy_ref and dpia_ref"
        )
    now = clock()
    with store.session() as s:
        if s.scalar(select(RetroCase).where(RetroCase.reference == reference)) is not None:
            raise RetroError(f"case {reference!r} already exists")
        c = RetroCase(
            reference=reference,
            reason=reason,
            opened_by=str(audit.as_actor(actor)),
            opened_at=now,
            retain_until=now + timedelta(days=rs.case_retention_days),
            policy_ref=policy[:200],
            dpia_ref=dpia[:200],
            crime_category=category,
        )
        s.add(c)
        s.flush()
        c.wrapped_key = store.keys.master.wrap(new_data_key(), _case_label(c.id))
        audit.record(
            s,
            actor,
            "retro.case.open",
            target=reference,
            details={"reason": reason, "crime_category": category, "policy_ref": policy, "dpia_ref": dpia},
            at=now,
        )
        return _info(c)


def _get_case(s: Any, reference: str) -> RetroCase:
    c = s.scalar(select(RetroCase).where(RetroCase.reference == reference))
    if c is None:
        raise NotFound(f"no case {reference!r} (open it first with `openlfr retro case open`)")
    if c.purged_at is not None or c.wrapped_key is None:
        if c.closed_at is not None:
            raise RetroError(f"case {reference!r} was closed and purged on {c.closed_at:%Y-%m-%d}")
        raise RetroError(f"case {reference!r} was purged at the end of its retention period")
    return c


def get_case(store: Store, reference: str) -> CaseInfo:
    with store.session() as s:
        c = s.scalar(select(RetroCase).where(RetroCase.reference == reference))
        if c is None:
            raise NotFound(f"no case {reference!r} (open it first with `openlfr retro case open`)")
        return _info(c)


def open_cases(store: Store) -> list[CaseInfo]:
    """Cases not yet closed or purged, oldest first (no images, no candidates)."""
    with store.session() as s:
        rows = s.scalars(
            select(RetroCase).where(RetroCase.purged_at.is_(None)).order_by(RetroCase.opened_at)
        ).all()
        return [_info(c) for c in rows]


# --- the people found in the media, before anyone is searched ----------------------------------------


@dataclass(frozen=True)
class PersonFound:
    """One person the media show, for the officer to choose from: never stored, shown once."""

    number: int
    """1-based, in the order the media were given (``--person N``)."""
    media: str
    frame_index: int | None
    box: list[float]
    quality: float
    low_quality: tuple[str, ...]
    thumbnail_jpeg: bytes = field(repr=False)

    def as_dict(self, *, thumbnail: bool = True) -> dict[str, Any]:
        import base64

        out: dict[str, Any] = {
            "person": self.number,
            "media": Path(self.media).name,
            "frame_index": self.frame_index,
            "box": self.box,
            "quality": round(self.quality, 3),
            "low_quality": list(self.low_quality),
        }
        if thumbnail:
            out["thumbnail"] = "data:image/jpeg;base64," + base64.b64encode(self.thumbnail_jpeg).decode()
        return out


class ChoiceNeeded(RetroError):
    """The media show more than one person (or are a video): the officer must choose whom to search.
    ``people`` lists them; ``selection`` names the in-memory pending choice (API and page), if one was kept."""

    def __init__(self, people: list[PersonFound], selection: str | None = None) -> None:
        super().__init__(
            f"the media show {len(people)} {'person' if len(people) == 1 else 'people'}: choose whom to search "
            "(--person N, repeatable), or search everyone with --all-faces and a reason; nothing was searched "
            "or stored"
        )
        self.people = people
        self.selection = selection


def _people(faces: Sequence[ProbeFace]) -> list[PersonFound]:
    return [
        PersonFound(i + 1, f.media_name, f.frame_index, f.box, f.quality, f.low_quality, f.crop_jpeg)
        for i, f in enumerate(faces)
    ]


def _wipe(faces: Sequence[ProbeFace]) -> None:
    """Overwrite the templates of faces not searched (the crops are immutable bytes: dropped)."""
    for f in faces:
        for e in f.embeddings:
            e.fill(0)
        f.embeddings.clear()


@dataclass
class _Pending:
    case_id: str
    actor: str
    faces: list[ProbeFace]
    media: list[str]
    expires: datetime


class PendingChoices:
    """People found in uploaded media, waiting for the officer's choice: in this process's memory only.

    The API and the page cannot hold an upload across two requests otherwise (a browser will not resend a
    file). Nothing here touches disk, the database or a log; an entry is wiped when the choice is made, when
    it expires (``retro.people_choice_minutes``) or when more than ``limit`` are waiting, and a restart loses
    them all, which fails safe: the officer uploads again. Only the officer who uploaded may choose.
    """

    def __init__(self, limit: int = 32) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, _Pending] = {}
        self.limit = limit

    def _expire(self, now: datetime) -> None:
        for token in [t for t, p in self._items.items() if p.expires <= now]:
            _wipe(self._items.pop(token).faces)
        while len(self._items) > self.limit:
            _wipe(self._items.pop(next(iter(self._items))).faces)

    def put(self, pending: _Pending, now: datetime) -> str:
        token = secrets.token_urlsafe(18)
        with self._lock:
            self._items[token] = pending
            self._expire(now)
        return token

    def take(self, token: str, actor: str, now: datetime) -> _Pending:
        with self._lock:
            self._expire(now)
            p = self._items.get(token)
            if p is None:
                raise RetroError(
                    "that choice of people has expired or was already used: upload the media again"
                )
            if p.actor != actor:
                raise RetroError("only the officer who uploaded the media may choose whom to search")
            del self._items[token]
            return p

    def restore(self, token: str, pending: _Pending) -> None:
        """Put back an entry taken for a choice that turned out invalid (its expiry is unchanged)."""
        with self._lock:
            self._items[token] = pending

    def thumbnail(self, token: str, actor: str, number: int, now: datetime) -> bytes:
        """One person's thumbnail for the choice page (the pending entry stays until chosen or expired)."""
        with self._lock:
            self._expire(now)
            p = self._items.get(token)
            if p is None or p.actor != actor or not 1 <= number <= len(p.faces):
                raise NotFound("no such person waiting to be chosen (expired, used, or not yours)")
            return p.faces[number - 1].crop_jpeg

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


pending_choices = PendingChoices()


# --- RFR search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateOut:
    id: str | None
    record_id: str
    score: float
    rank: int
    calibration: str
    template_id: int
    flags: tuple[str, ...] = ()
    """The gallery record's import flags (several faces, low quality): shown beside the candidate."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "record_id": self.record_id,
            "score": round(self.score, 4),
            "rank": self.rank,
            "calibration": self.calibration,
            "flags": list(self.flags),
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


def template_flags(store: Store, template_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The import flags of gallery templates (``GalleryTemplate.flags``), by template id."""
    if not template_ids:
        return {}
    with store.session() as s:
        return _flags_in(s, template_ids)


def _flags_in(s: Any, template_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    rows = s.execute(
        select(GalleryTemplate.id, GalleryTemplate.flags).where(GalleryTemplate.id.in_(set(template_ids)))
    ).all()
    return {int(i): tuple(f or ()) for i, f in rows}


def _analyse_all(
    store: Store,
    engine: FaceEngine,
    media: Sequence[Path],
    progress: Progress | None,
    cancel: threading.Event | None,
) -> list[ProbeFace]:
    faces: list[ProbeFace] = []
    for path in media:
        faces.extend(analyse_media(engine, Path(path), store.settings, progress=progress, cancel=cancel))
    return faces


def _needs_choice(media: Sequence[Path], faces: Sequence[ProbeFace]) -> bool:
    """A single face in still images goes straight through; a video or several faces need a choice."""
    return len(faces) != 1 or any(f.frame_index is not None for f in faces)


def _chosen(
    faces: list[ProbeFace], person: Sequence[int] | None, all_faces_reason: str | None
) -> tuple[list[ProbeFace], str | None]:
    """The faces to search and, when everyone is, the stated reason. Raises when the choice is unclear."""
    all_why = all_faces_reason.strip() if all_faces_reason and all_faces_reason.strip() else None
    if person and all_why:
        raise RetroError("choose people (--person) or search everyone (--all-faces), not both")
    if all_why:
        return list(faces), all_why
    numbers = sorted(set(person or ()))
    bad = [n for n in numbers if not 1 <= n <= len(faces)]
    if bad:
        raise RetroError(
            f"no person {', '.join(map(str, bad))} in the media: {len(faces)} "
            f"{'person was' if len(faces) == 1 else 'people were'} found (numbered 1 to {len(faces)})"
        )
    return [faces[n - 1] for n in numbers], None


def rfr_search(
    store: Store,
    engine: FaceEngine,
    case_reference: str,
    reason: str | None,
    media: Sequence[Path],
    actor: ActorLike,
    *,
    provenance: str | None,
    person: Sequence[int] | None = None,
    all_faces_reason: str | None = None,
    gallery_name: str | None = None,
    k: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    clock: Clock = utcnow,
) -> list[FaceOut]:
    """Search the person of interest in ``media`` against the gallery for a case.

    A single face in still images is searched straight away. Otherwise (a video, or several faces) only the
    people chosen with ``person`` (1-based, as :class:`ChoiceNeeded` lists them) are searched and kept, or
    everyone when ``all_faces_reason`` says why; with neither, :class:`ChoiceNeeded` lists the people found
    and nothing is searched or written. All media are analysed before anything is stored, so a bad file, no
    face or a cancel leaves nothing half-stored."""
    require_enabled(store.settings, "rfr")
    why = need_reason(reason, "an RFR search")
    source = parse_provenance(provenance)
    if not media:
        raise RetroError("an RFR search needs at least one image or video")
    with store.session() as s:
        _get_case(s, case_reference)
    faces = _analyse_all(store, engine, media, progress, cancel)
    if person or (all_faces_reason or "").strip():
        chosen, all_why = _chosen(faces, person, all_faces_reason)
    elif _needs_choice(media, faces):
        _wipe(faces)
        raise ChoiceNeeded(_people(faces))
    else:
        chosen, all_why = list(faces), None
    try:
        return _store_search(
            store,
            engine,
            case_reference,
            why,
            source,
            all_why,
            chosen,
            media,
            len(faces),
            actor,
            gallery_name=gallery_name,
            k=k,
            clock=clock,
        )
    finally:
        _wipe(faces)


def find_people(
    store: Store,
    engine: FaceEngine,
    case_reference: str,
    media: Sequence[Path],
    actor: ActorLike,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    clock: Clock = utcnow,
) -> tuple[str, list[PersonFound], datetime]:
    """Analyse uploaded media and keep the people found in memory (:class:`PendingChoices`) for the officer
    to choose from; returns ``(selection, people, expires_at)``. Nothing is searched or written; the
    analysis is audited with counts only."""
    require_enabled(store.settings, "rfr")
    if not media:
        raise RetroError("an RFR search needs at least one image or video")
    with store.session() as s:
        case = _get_case(s, case_reference)
    faces = _analyse_all(store, engine, media, progress, cancel)
    now = clock()
    expires = now + timedelta(minutes=store.settings.retro.people_choice_minutes)
    who = str(audit.as_actor(actor))
    token = pending_choices.put(_Pending(case.id, who, faces, [Path(m).name for m in media], expires), now)
    with store.session() as s:
        audit.record(
            s,
            actor,
            "retro.people.found",
            target=case.reference,
            details={"media": [Path(m).name for m in media], "people": len(faces)},
            at=now,
        )
    return token, _people(faces), expires


def search_chosen(
    store: Store,
    engine: FaceEngine,
    case_reference: str,
    selection: str,
    reason: str | None,
    actor: ActorLike,
    *,
    provenance: str | None,
    person: Sequence[int] | None = None,
    all_faces_reason: str | None = None,
    gallery_name: str | None = None,
    k: int | None = None,
    clock: Clock = utcnow,
) -> list[FaceOut]:
    """Search the people the officer chose from :func:`find_people`; the others are wiped unsearched."""
    require_enabled(store.settings, "rfr")
    why = need_reason(reason, "an RFR search")
    source = parse_provenance(provenance)
    if not person and not (all_faces_reason or "").strip():
        raise RetroError("choose at least one person to search, or search everyone with a stated reason")
    now = clock()
    wipe = True
    pending = pending_choices.take(selection, str(audit.as_actor(actor)), now)
    try:
        with store.session() as s:
            case = _get_case(s, case_reference)
        if case.id != pending.case_id:
            raise RetroError("that choice of people belongs to another case")
        try:
            chosen, all_why = _chosen(pending.faces, person, all_faces_reason)
        except RetroError:
            # A mistyped choice should not cost the upload: the people wait again until they expire.
            pending_choices.restore(selection, pending)
            wipe = False
            raise
        return _store_search(
            store,
            engine,
            case_reference,
            why,
            source,
            all_why,
            chosen,
            [Path(m) for m in pending.media],
            len(pending.faces),
            actor,
            gallery_name=gallery_name,
            k=k,
            clock=clock,
        )
    finally:
        if wipe:
            _wipe(pending.faces)


def _store_search(
    store: Store,
    engine: FaceEngine,
    case_reference: str,
    why: str,
    provenance: str,
    all_faces_reason: str | None,
    faces: Sequence[ProbeFace],
    media: Sequence[Path],
    found: int,
    actor: ActorLike,
    *,
    gallery_name: str | None,
    k: int | None,
    clock: Clock,
) -> list[FaceOut]:
    """Search ``faces`` (the chosen people) and store their crops and candidate lists under the case key."""
    if not faces:
        raise RetroError("choose at least one person to search")
    k = k or store.settings.retro.rfr_top_k
    with store.session() as s:
        case = _get_case(s, case_reference)
        gallery = get_gallery(s, gallery_name or store.settings.retro.gallery)
    if gallery.pack != engine.pack.name:
        raise RetroError(f"gallery {gallery.name!r} holds {gallery.pack} templates, not {engine.pack.name}")
    gkey = gallery_key(store, gallery)
    lists = _search_faces(store, gallery, gkey, faces, k)
    cal = _calibration(store, gallery)
    size = _gallery_size(store, gallery)
    flags = template_flags(store, [tid for cands in lists for _, tid, _ in cands])
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
                    provenance=provenance,
                    all_faces_reason=all_faces_reason,
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
                    fo.candidates.append(
                        CandidateOut(c.id, rec, score, rank, c.calibration, tid, flags.get(tid, ()))
                    )
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
                    "people_found": found,
                    "all_faces_reason": all_faces_reason,
                    "provenance": provenance,
                    "crime_category": case.crime_category,
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

REPORTED = "reported possible match"


def candidate_status(decisions: Sequence[tuple[str, str]]) -> str:
    """From ``(reviewer, decision)`` pairs: ``reported`` (two reviewers said possible match),
    ``awaiting second review``, ``no match``, ``inconclusive``, ``disputed`` or ``not reviewed``."""
    if not decisions:
        return "not reviewed"
    kinds = [d for _, d in decisions]
    possible = {r for r, d in decisions if d == "possible_match"}
    if len(possible) >= 2 and len(set(kinds)) == 1:
        return REPORTED
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
    require_enabled(store.settings, "rfr")
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

            def status_now() -> str:
                ds = s.execute(
                    select(RetroDecision.reviewer, RetroDecision.decision).where(
                        RetroDecision.candidate_id == c.id
                    )
                ).all()
                return candidate_status([(str(r), str(d)) for r, d in ds])

            before = status_now()
            s.add(
                RetroDecision(candidate_id=c.id, reviewer=str(who), decision=key, note=note, decided_at=now)
            )
            s.flush()
            status = status_now()
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
                    # Counted once, in the published totals, when the second reviewer's agreement makes it so.
                    "newly_reported": status == REPORTED and before != REPORTED,
                    "crime_category": case.crime_category,
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
        tids = s.scalars(
            select(RetroCandidate.template_id).where(RetroCandidate.probe_id.in_([p.id for p in probes]))
        ).all()
        flags = _flags_in(s, list(tids))
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
                    "flags": list(flags.get(c.template_id, ())),
                    "decisions": [{"reviewer": r, "decision": d} for r, d in ds],
                    "status": status,
                    "investigation": c.investigation,
                }
                rows.append(row)
                if status == REPORTED:
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
                    "provenance": p.provenance,
                    "all_faces_reason": p.all_faces_reason,
                    "candidates": rows,
                }
            )
        if actor is not None:
            audit.record(s, actor, "retro.case.view", target=reference, details={"faces": len(faces)})
    return {
        "case": reference,
        "reason": case.reason,
        "opened_by": case.opened_by,
        "crime_category": case.crime_category,
        "policy_ref": case.policy_ref,
        "dpia_ref": case.dpia_ref,
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


def _purge(s: Any, store: Store, c: RetroCase, now: datetime) -> int:
    """Delete a case's probes, candidate lists and decisions and destroy its key; the case row stays as the
    record (reference, reason, who, when). Returns how many probes went. The caller audits."""
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
    return len(ids)


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
            n = _purge(s, store, c, now)
            audit.record(
                s,
                actor,
                "retro.case.purge",
                target=c.reference,
                details={"probes": n, "undecided_probes": waiting},
                at=now,
            )
            purged.append(c.reference)
            store.blobs.delete_deployment(case_folder(c.id))
    return purged


def close_case(
    store: Store, reference: str, reason: str, actor: ActorLike, *, clock: Clock = utcnow
) -> CaseInfo:
    """Close a case before its retention ends: its probe crops, candidate lists, decisions and key are
    purged at once (audited). Only the officer who opened it, or a supervisor (authorising officer), may."""
    why = (reason or "").strip()
    if not why:
        raise RetroError("closing a case needs a reason (e.g. 'suspect charged', 'no further action')")
    who = audit.as_actor(actor)
    now = clock()
    with store.session() as s:
        c = _get_case(s, reference)
        opener = audit.as_actor(c.opened_by)
        if who.name != opener.name and who.role != Role.AUTHORISING_OFFICER.value:
            raise RetroError(
                f"only the officer who opened case {reference!r} ({opener.name}) or a supervisor "
                "(authorising officer) may close it"
            )
        n = _purge(s, store, c, now)
        c.closed_at, c.closed_by, c.close_reason = now, str(who), why
        audit.record(
            s, who, "retro.case.close", target=c.reference, details={"probes": n, "reason": why}, at=now
        )
        info = _info(c)
        folder = case_folder(c.id)
    store.blobs.delete_deployment(folder)
    return info


def record_investigation(
    store: Store, candidate_id: str, outcome: str, actor: ActorLike, *, clock: Clock = utcnow
) -> str:
    """The investigation's conclusion on a reported possible match (confirmed / not confirmed); audited and
    counted in the published totals by the case's crime category."""
    key = outcome.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in INVESTIGATION_OUTCOMES:
        raise RetroError(f"unknown outcome {outcome!r}: use one of {', '.join(INVESTIGATION_OUTCOMES)}")
    who = audit.as_actor(actor)
    now = clock()
    with store.session() as s:
        c = s.get(RetroCandidate, candidate_id)
        if c is None:
            raise NotFound(f"no candidate {candidate_id!r}")
        probe = s.get(RetroProbe, c.probe_id)
        assert probe is not None
        case = s.get(RetroCase, probe.case_id)
        assert case is not None
        ds = s.execute(
            select(RetroDecision.reviewer, RetroDecision.decision).where(RetroDecision.candidate_id == c.id)
        ).all()
        if candidate_status([(str(r), str(d)) for r, d in ds]) != REPORTED:
            raise RetroError(
                "only a possible match reported by two reviewers can be confirmed by the investigation"
            )
        if c.investigation is not None:
            raise RetroError(f"the investigation's outcome is already recorded ({c.investigation})")
        c.investigation, c.investigation_by, c.investigation_at = key, str(who), now
        audit.record(
            s,
            who,
            "retro.investigation",
            target=case.reference,
            details={"candidate": c.id, "outcome": key, "crime_category": case.crime_category},
            at=now,
        )
    return INVESTIGATION_OUTCOMES[key]


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
