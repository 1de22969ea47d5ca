"""RFR search: each search of probe media names its reason and is audited with who ran it. Every face
(image) or track (video) chosen gets one ranked candidate list, each candidate with its score, rank and
what the pack's calibration says about that score; probe crops are stored encrypted under the case's key.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.retro.candidates import (
    CandidateOut,
    FaceOut,
    _calibration,
    _gallery_size,
    describe_score,
    template_flags,
)
from openlfr.retro.cases import (
    Clock,
    _case_label,
    _get_case,
    case_folder,
    need_reason,
    parse_provenance,
    require_enabled,
)
from openlfr.retro.gallery_keys import gallery_key, get_gallery
from openlfr.retro.gallery_records import GalleryCandidate, search_gallery
from openlfr.retro.media import ProbeFace, Progress, RetroError, analyse_media
from openlfr.retro.people import (
    ChoiceNeeded,
    PersonFound,
    _chosen,
    _needs_choice,
    _Pending,
    _people,
    _wipe,
    pending_choices,
)
from openlfr.store import Store, utcnow
from openlfr.store.crypto import DataKey
from openlfr.store.models import (
    Gallery,
    RetroCandidate,
    RetroProbe,
)
from openlfr.vision.engine import FaceEngine

# --- RFR search --------------------------------------------------------------------------------------


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
