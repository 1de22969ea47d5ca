"""Enrolment: analyse each reference image, refuse what cannot serve as a reference, and write the rest.

Analysis (the slow part) runs outside any transaction so the live pipeline is not blocked meanwhile; the
write is one transaction, all or nothing, with any blob written before a failure deleted again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.deployments import Clock, load
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlists.csv_import import read_watchlist_csv
from openlfr.governance.watchlists.entries import (
    EnrolmentError,
    ImportReport,
    ReferenceImage,
    Refusal,
    SubjectEntry,
    SubjectImages,
    validate_entry,
)
from openlfr.governance.watchlists.storage import (
    EnrolledTemplates,
    PreparedImage,
    PreparedSubject,
    check_enrollable,
    check_new_ids,
    image_digest,
    load_enrolled,
    write_subjects,
)
from openlfr.matching.attraction import AttractionPolicy, attraction_of
from openlfr.matching.calibration import load_calibration
from openlfr.matching.reference_crowd import ReferenceCrowd, attraction_policy, load_reference_crowd
from openlfr.store import Store, utcnow
from openlfr.vision import Face, FaceEngine, ImageError, load_engine, load_image

Progress = Callable[[int, int], None]
"""Called with (done, total) as images are analysed."""


def analyse_reference(engine: FaceEngine, data: bytes, label: str, store: Store) -> Face:
    """The one face of a reference image, embedded; :class:`GovernanceError` saying why it is refused."""
    vs = store.settings.vision
    try:
        image = load_image(data, name=label, max_pixels=vs.max_image_pixels, max_bytes=vs.max_image_bytes)
    except ImageError as exc:
        raise GovernanceError(str(exc)) from exc
    faces = engine.analyse(image, pad=0.0)
    if not faces:  # tight crops (custody-style) need a border before a scene detector finds the face
        faces = engine.analyse(image, pad=0.5)
    if not faces:
        raise GovernanceError("no face found")
    faces = sorted(faces, key=lambda f: -f.size)
    ratio = store.settings.governance.ambiguous_face_ratio
    if len(faces) > 1 and faces[1].size >= ratio * faces[0].size:
        raise GovernanceError(
            f"{len(faces)} faces of similar size: it is not clear which is the subject (crop the image to them)"
        )
    face = faces[0]
    q = face.quality
    assert q is not None and face.embedding is not None
    if not q.acceptable:
        raise GovernanceError("below the quality bar: " + "; ".join(q.reasons))
    bar = store.settings.quality.enrol_min_score
    if q.score < bar:
        raise GovernanceError(f"below the quality bar: quality score {q.score:.2f} < {bar:.2f}")
    return face


@dataclass(frozen=True)
class NearestOther:
    """The most similar template of another subject."""

    subject_id: str
    similarity: float


class ReferenceGallery:
    """The deployment's enrolled templates in memory, for duplicate checks as new ones are added.

    Rows live in a preallocated matrix that doubles when full, and each row's subject is an integer code,
    so a check against 10,000 templates is one matrix-vector product and one vectorised mask.
    """

    def __init__(self, enrolled: EnrolledTemplates, dim: int) -> None:
        self.hashes = set(enrolled.image_sha256)
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        n = len(enrolled.subject_ids)
        self._matrix = np.zeros((max(256, 2 * n), dim), np.float32)
        self._owner = np.zeros(len(self._matrix), np.int64)
        self.size = 0
        for sid, row in zip(enrolled.subject_ids, enrolled.templates, strict=True):
            self.add(sid, row, None)

    def best_other(self, embedding: np.ndarray, subject_id: str) -> NearestOther | None:
        """The most similar template of any other subject, and its similarity."""
        if self.size == 0:
            return None
        sims = self._matrix[: self.size] @ embedding.astype(np.float32)
        sims[self._owner[: self.size] == self._codes.get(subject_id, -1)] = -np.inf
        j = int(np.argmax(sims))
        return NearestOther(self._names[self._owner[j]], float(sims[j])) if np.isfinite(sims[j]) else None

    def add(self, subject_id: str, embedding: np.ndarray, sha: str | None) -> None:
        if self.size == len(self._matrix):
            self._matrix = np.concatenate([self._matrix, np.zeros_like(self._matrix)])
            self._owner = np.concatenate([self._owner, np.zeros_like(self._owner)])
        code = self._codes.setdefault(subject_id, len(self._codes))
        if code == len(self._names):
            self._names.append(subject_id)
        self._matrix[self.size] = embedding
        self._owner[self.size] = code
        self.size += 1
        if sha is not None:
            self.hashes.add(sha)


@dataclass(frozen=True)
class AttractionCheck:
    """A reference crowd with the rule applied to it (``matching/attraction.py``)."""

    crowd: ReferenceCrowd
    policy: AttractionPolicy

    @classmethod
    def for_pack(cls, store: Store, pack: str) -> AttractionCheck | None:
        """The check for a pack, or ``None`` when it is switched off or no reference crowd exists."""
        gov = store.settings.governance
        if not gov.attraction_check:
            return None
        crowd = load_reference_crowd(pack, store.settings.data_dir)
        if crowd is None or crowd.size == 0:
            return None
        return cls(crowd, attraction_policy(crowd, gov))


@dataclass
class PreparedBatch:
    """The outcome of analysing a batch: what may be written, what was refused, and lookalikes accepted
    under a stated reason."""

    subjects: list[PreparedSubject] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    lookalikes: list[Refusal] = field(default_factory=list)
    attractors: list[Refusal] = field(default_factory=list)


def prepare_batch(
    store: Store,
    engine: FaceEngine,
    gallery: ReferenceGallery,
    batch: Sequence[SubjectImages],
    progress: Progress | None,
    lookalike_reason: str | None = None,
    *,
    watchlist_key: bytes,
    attraction: AttractionCheck | None = None,
) -> PreparedBatch:
    """Analyse and de-duplicate every image; nothing is written. ``watchlist_key`` keys the image digests
    (:func:`image_digest`)."""
    threshold = store.settings.governance.duplicate_similarity.get(
        engine.pack.name, engine.pack.verification_threshold
    )
    total = sum(len(item.images) for item in batch)
    done = 0
    out = PreparedBatch()
    for item in batch:
        entry = item.entry
        accepted: list[PreparedImage] = []
        for image in item.images:
            done += 1
            sha = image_digest(watchlist_key, image.data)
            try:
                if sha in gallery.hashes:
                    raise GovernanceError("the same image is already enrolled in this watchlist")
                face = analyse_reference(engine, image.data, image.label, store)
                assert face.embedding is not None
                other = gallery.best_other(face.embedding, entry.subject_id)
                if other is not None and other.similarity >= threshold and lookalike_reason:
                    out.lookalikes.append(
                        Refusal(
                            entry.subject_id,
                            image.label,
                            f"looks like subject {other.subject_id} "
                            f"(similarity {other.similarity:.3f} >= {threshold:.3f}); accepted: "
                            f"{lookalike_reason}",
                        )
                    )
                elif other is not None and other.similarity >= threshold:
                    raise GovernanceError(
                        f"looks like subject {other.subject_id}, already enrolled (similarity "
                        f"{other.similarity:.3f} >= {threshold:.3f}): the same person may be entered twice "
                        "(if they are different people, enrol with a lookalike reason)"
                    )
            except GovernanceError as exc:
                out.refusals.append(Refusal(entry.subject_id, image.label, str(exc)))
            else:
                gallery.add(entry.subject_id, face.embedding, sha)
                evidence = (
                    attraction_of(face.embedding, attraction.crowd.templates, attraction.policy)
                    if attraction is not None
                    else None
                )
                if evidence is not None and evidence.attractor:
                    out.attractors.append(Refusal(entry.subject_id, image.label, evidence.describe()))
                accepted.append(PreparedImage(image.data, sha, face, evidence))
            if progress is not None:
                progress(done, total)
        if accepted:
            out.subjects.append(PreparedSubject(entry, accepted))
    return out


def _audit_batch(
    s: Session,
    who: ActorLike,
    deployment_id: str,
    prepared: PreparedBatch,
    now: datetime,
    source: str,
    reason: str | None,
    attraction: AttractionCheck | None = None,
) -> None:
    """One audit row per enrolled subject, per refused image, per lookalike accepted and per attractor."""
    for p in prepared.subjects:
        record(
            s,
            who,
            "watchlist.enrol",
            deployment_id=deployment_id,
            target=p.entry.subject_id,
            at=now,
            details={
                "category": p.entry.category,
                "reason": p.entry.reason,
                "image_source": p.entry.image_source,
                "offence_seriousness": p.entry.offence_seriousness,
                "legal_basis": p.entry.legal_basis,
                "approved_by": p.entry.approved_by,
                "expires_at": p.entry.expires_at.isoformat(),
                "images": len(p.images),
                # Keyed with the deployment's watchlist key, never a plain SHA-256 (issue 14).
                "image_digest": [img.sha256 for img in p.images],
                "source": source,
                "attraction_checked": attraction is not None,
                "offset_rule": attraction.policy.rule if attraction is not None else None,
                # Each template's own threshold relative to the deployment's (its offset).
                "offsets": [round(img.offset, 4) for img in p.images] if attraction is not None else None,
            },
        )
        for img in p.images:
            if img.attraction is not None and img.attraction.attractor:
                record(
                    s,
                    who,
                    "watchlist.attractor",
                    deployment_id=deployment_id,
                    target=p.entry.subject_id,
                    at=now,
                    details={
                        "image_digest": img.sha256,
                        "evidence": img.attraction.as_dict(),
                        "reference_crowd": attraction.crowd.source if attraction else "",
                        "decision": "enrolled with its own higher threshold (offset)",
                    },
                )
    for r in prepared.refusals:
        record(
            s,
            who,
            "watchlist.refuse",
            deployment_id=deployment_id,
            target=r.subject_id,
            at=now,
            details={"image": r.image, "reason": r.reason, "source": source},
        )
    for r in prepared.lookalikes:
        record(
            s,
            who,
            "watchlist.lookalike_override",
            deployment_id=deployment_id,
            target=r.subject_id,
            at=now,
            details={"image": r.image, "finding": r.reason, "reason": reason, "source": source},
        )


def _enrol_batch(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    batch: Sequence[SubjectImages],
    *,
    engine: FaceEngine | None,
    allow_partial: bool,
    progress: Progress | None,
    clock: Clock,
    source: str,
    lookalike_reason: str | None,
) -> ImportReport:
    now = clock()
    who = as_actor(actor)
    batch = [SubjectImages(validate_entry(item.entry, now), item.images) for item in batch]
    for item in batch:
        if not item.images:
            raise GovernanceError(f"subject {item.entry.subject_id}: no reference image given")
    with store.session() as s:
        dep = load(s, deployment_id)
        check_enrollable(dep)
        check_new_ids(s, dep, [item.entry for item in batch])
        eng = engine or load_engine(dep.pack, store.settings)
        if eng.pack.name != dep.pack:
            raise GovernanceError(f"deployment {dep.id} uses pack {dep.pack}, not {eng.pack.name}")
        gallery = ReferenceGallery(load_enrolled(store, s, dep, eng.embedding_size), eng.embedding_size)
        watchlist_key = store.keys.get(s, dep.id, "watchlist").first  # digests stay stable across rotations
        status, threshold, overridden = dep.status, dep.threshold, bool(dep.threshold_override_reason)
    check = AttractionCheck.for_pack(store, eng.pack.name)
    rule = check.policy.rule if check is not None else None
    if status == "open" and not overridden:
        # The validated minimum depends on the offset rule the templates get (Calibration.minimum_for): an
        # open deployment must not take templates whose rule is validated only at a stricter minimum than
        # it runs at (for instance templates never checked, when no reference crowd exists here).
        cal = load_calibration(eng.pack.name, store.settings.data_dir)
        if cal is not None and threshold < cal.minimum_for({rule}):
            how = "without the attraction check (no reference crowd here; run `openlfr evaluate`)"
            raise GovernanceError(
                f"deployment {deployment_id} is open at threshold {threshold:.3f}, below pack {eng.pack.name}'s "
                f"validated minimum {cal.minimum_for({rule}):.3f} for templates enrolled "
                + (how if rule is None else f"with {rule} offsets")
            )
    reason = (lookalike_reason or "").strip() or None
    prepared = prepare_batch(
        store, eng, gallery, batch, progress, reason, watchlist_key=watchlist_key, attraction=check
    )
    report = ImportReport(
        deployment_id=deployment_id,
        refused=prepared.refusals,
        lookalikes=prepared.lookalikes,
        attractors=prepared.attractors,
        attraction_checked=check is not None,
    )
    enrolled_ids = {p.entry.subject_id for p in prepared.subjects}
    report.subjects_refused = sorted({r.subject_id for r in prepared.refusals} - enrolled_ids)
    if prepared.refusals and not allow_partial:
        raise EnrolmentError(
            f"nothing enrolled: {len(prepared.refusals)} image(s) refused"
            + (f" ({source})" if source else ""),
            prepared.refusals,
        )
    if not prepared.subjects:
        raise EnrolmentError("nothing enrolled: every image was refused", prepared.refusals)
    written: list[str] = []
    try:
        with store.session() as s:
            dep = load(s, deployment_id, for_update=True)
            check_enrollable(dep)  # it may have closed while we analysed
            check_new_ids(s, dep, [p.entry for p in prepared.subjects])
            report.images_enrolled = write_subjects(store, s, dep, prepared.subjects, who, now, written)
            report.subjects_enrolled = len(prepared.subjects)
            _audit_batch(s, who, dep.id, prepared, now, source, reason, check)
    except BaseException:
        store.blobs.delete_many(deployment_id, written)  # nothing half-imported: no orphan files either
        raise
    return report


def _read_image(item: Path | tuple[str, bytes] | ReferenceImage) -> ReferenceImage:
    if isinstance(item, ReferenceImage):
        return item
    if isinstance(item, tuple):
        return ReferenceImage(item[0], item[1])
    try:
        return ReferenceImage(str(item), Path(item).read_bytes())
    except FileNotFoundError as exc:
        raise GovernanceError(f"image {item} not found") from exc
    except OSError as exc:
        raise GovernanceError(f"image {item} cannot be read ({exc.strerror or exc})") from exc


def enrol_subject(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    entry: SubjectEntry,
    images: Sequence[Path | tuple[str, bytes] | ReferenceImage],
    *,
    engine: FaceEngine | None = None,
    allow_partial: bool = False,
    lookalike_reason: str | None = None,
    clock: Clock = utcnow,
) -> ImportReport:
    """Enrol one subject with one or more reference images (paths, (label, bytes) pairs or
    :class:`ReferenceImage`).

    An image that looks like another enrolled subject is refused unless ``lookalike_reason`` says why they
    are different people (e.g. "twins, both named in warrants"); that decision is audited."""
    loaded = [_read_image(i) for i in images]
    return _enrol_batch(
        store,
        actor,
        deployment_id,
        [SubjectImages(entry, loaded)],
        engine=engine,
        allow_partial=allow_partial,
        progress=None,
        clock=clock,
        source="",
        lookalike_reason=lookalike_reason,
    )


def import_watchlist(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    csv_path: Path,
    image_dir: Path | None = None,
    *,
    engine: FaceEngine | None = None,
    allow_partial: bool = False,
    progress: Progress | None = None,
    lookalike_reason: str | None = None,
    clock: Clock = utcnow,
    needs_approval: bool = False,
) -> ImportReport:
    """Import a watchlist CSV (see :func:`read_watchlist_csv`). All or nothing: a malformed CSV, a missing
    image, an unknown category, a past expiry or a repeated subject id stops the import before anything is
    stored, and so does any refused image unless ``allow_partial`` is given (then refused subjects are
    reported and the others enrolled)."""
    folder = image_dir or csv_path.parent
    parsed = read_watchlist_csv(csv_path, folder, clock())
    batch = [
        SubjectImages(
            replace(row.entry, needs_approval=needs_approval),
            [ReferenceImage(f.name, _read_image(f.path).data) for f in row.images],
        )
        for row in parsed
    ]
    return _enrol_batch(
        store,
        actor,
        deployment_id,
        batch,
        engine=engine,
        allow_partial=allow_partial,
        progress=progress,
        clock=clock,
        source=csv_path.name,
        lookalike_reason=lookalike_reason,
    )
