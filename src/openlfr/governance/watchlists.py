"""Watchlists: enrol subjects from reference images, import a whole list from CSV, list and load them.

Each subject has a category from the closed list, a reason, the image source and legal basis, who
approved the entry and when it expires, and one or more reference images. An image is refused (with the
reason) when it holds no face, several faces of similar size, a face below the quality bar, the same
bytes as an image already enrolled, or a face that matches another enrolled subject (the same person
entered twice). Images are stored as encrypted blobs, templates encrypted in the database, both under the
deployment's watchlist key; closing the deployment destroys all of it.

Imports are all or nothing: a malformed CSV, a missing image, an unknown category, a past expiry or a
repeated subject id stops the import before anything is stored, and so does any refused image unless
``allow_partial`` is given (then refused subjects are reported and the others enrolled).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.closed_lists import parse_image_source, parse_offence_seriousness
from openlfr.governance.deployments import Clock, load
from openlfr.governance.errors import GovernanceError
from openlfr.store import Store, new_id, utcnow
from openlfr.store.crypto import decrypt, encrypt
from openlfr.store.models import WATCHLIST_CATEGORIES, Deployment, WatchlistSubject, WatchlistTemplate
from openlfr.vision import Face, FaceEngine, ImageError, load_engine, load_image

Progress = Callable[[int, int], None]
"""Called with (done, total) as images are analysed."""

CSV_COLUMNS = (
    "subject_id",
    "category",
    "reason",
    "image_source",
    "legal_basis",
    "approved_by",
    "expires_at",
    "images",
)
CSV_OPTIONAL = ("name", "date_of_birth", "offence_seriousness")


@dataclass(frozen=True)
class SubjectInfo:
    """A watchlist entry as the live pipeline and consoles see it (no images, no template)."""

    subject_id: str
    category: str
    reason: str
    name: str | None = None
    expires_at: datetime | None = None
    templates: int = 0

    @property
    def category_label(self) -> str:
        return WATCHLIST_CATEGORIES.get(self.category, self.category)


@dataclass
class SubjectEntry:
    """What a person enters to put someone on a watchlist."""

    subject_id: str
    category: str
    reason: str
    image_source: str
    legal_basis: str
    approved_by: str
    expires_at: datetime
    name: str | None = None
    date_of_birth: date | None = None
    offence_seriousness: str | None = None
    """A key or the words of ``closed_lists.OFFENCE_SERIOUSNESS`` (may be empty for a no-offence category)."""


@dataclass(frozen=True)
class Refusal:
    subject_id: str
    image: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject_id}: {self.image}: {self.reason}"


class EnrolmentError(GovernanceError):
    """Nothing was enrolled; ``refusals`` lists every problem found."""

    def __init__(self, message: str, refusals: Sequence[Refusal] = ()) -> None:
        self.refusals = list(refusals)
        detail = "".join(f"\n  - {r}" for r in self.refusals[:50])
        more = f"\n  ... and {len(self.refusals) - 50} more" if len(self.refusals) > 50 else ""
        super().__init__(message + detail + more)


@dataclass
class ImportReport:
    deployment_id: str
    subjects_enrolled: int = 0
    images_enrolled: int = 0
    refused: list[Refusal] = field(default_factory=list)
    subjects_refused: list[str] = field(default_factory=list)
    lookalikes: list[Refusal] = field(default_factory=list)
    """Images that looked like another subject, enrolled because a lookalike reason was given."""


def parse_category(value: str) -> str:
    """A category key from its key or its words (case-insensitive); anything else is refused."""
    v = " ".join(value.strip().lower().replace("-", " ").split())
    for key, label in WATCHLIST_CATEGORIES.items():
        if v in (key, key.replace("_", " "), label):
            return key
    allowed = "; ".join(f"{k} ({label})" for k, label in WATCHLIST_CATEGORIES.items())
    raise GovernanceError(f"unknown category {value!r}: the categories are {allowed}")


def parse_time(value: str, what: str) -> datetime:
    """ISO date or time; a date means the end of that day is not included (00:00 UTC of that day)."""
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise GovernanceError(
            f"{what} {value!r} is not an ISO date or time (e.g. 2025-12-31 or 2025-12-31T18:00Z)"
        ) from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise GovernanceError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def validate_entry(entry: SubjectEntry, now: datetime) -> SubjectEntry:
    """The entry with its category normalised; :class:`GovernanceError` naming the first problem."""
    sid = entry.subject_id.strip() if entry.subject_id else ""
    if not sid:
        raise GovernanceError("a subject needs a subject id")
    if len(sid) > 200:
        raise GovernanceError(f"subject id {sid[:30]!r}... is longer than 200 characters")
    for name in ("reason", "image_source", "legal_basis", "approved_by"):
        if not (getattr(entry, name) or "").strip():
            raise GovernanceError(f"subject {sid}: {name.replace('_', ' ')} is required")
    category = parse_category(entry.category)
    expires = entry.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= now:
        raise GovernanceError(f"subject {sid}: expiry {expires.isoformat()} is in the past")
    if entry.date_of_birth is not None and entry.date_of_birth > now.date():
        raise GovernanceError(f"subject {sid}: date of birth {entry.date_of_birth} is in the future")
    return SubjectEntry(
        subject_id=sid,
        category=category,
        reason=entry.reason.strip(),
        image_source=parse_image_source(entry.image_source),
        legal_basis=entry.legal_basis.strip(),
        approved_by=entry.approved_by.strip(),
        expires_at=expires,
        name=(entry.name or "").strip() or None,
        date_of_birth=entry.date_of_birth,
        offence_seriousness=parse_offence_seriousness(entry.offence_seriousness, category),
    )


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


@dataclass
class _Prepared:
    entry: SubjectEntry
    images: list[tuple[bytes, str, Face]]  # (bytes, sha256, face)


class _Gallery:
    """The deployment's enrolled templates in memory, for duplicate checks as new ones are added.

    Rows live in a preallocated matrix that doubles when full, and each row's subject is an integer code,
    so a check against 10,000 templates is one matrix-vector product and one vectorised mask.
    """

    def __init__(self, subject_ids: list[str], templates: np.ndarray, hashes: set[str], dim: int) -> None:
        self.hashes = hashes
        self._codes: dict[str, int] = {}
        self._names: list[str] = []
        n = len(subject_ids)
        self._matrix = np.zeros((max(256, 2 * n), dim), np.float32)
        self._owner = np.zeros(len(self._matrix), np.int64)
        self.size = 0
        for sid, row in zip(subject_ids, templates, strict=True):
            self.add(sid, row, None)

    def best_other(self, embedding: np.ndarray, subject_id: str) -> tuple[str, float] | None:
        """The most similar template of any other subject, and its similarity."""
        if self.size == 0:
            return None
        sims = self._matrix[: self.size] @ embedding.astype(np.float32)
        sims[self._owner[: self.size] == self._codes.get(subject_id, -1)] = -np.inf
        j = int(np.argmax(sims))
        return (self._names[self._owner[j]], float(sims[j])) if np.isfinite(sims[j]) else None

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


def _template_aad(deployment_id: str, template_id: str) -> bytes:
    return f"{deployment_id}/template/{template_id}".encode()


def decode_template(store_key: bytes, row: WatchlistTemplate) -> np.ndarray:
    raw = decrypt(store_key, row.template, _template_aad(row.deployment_id, row.id))
    return np.frombuffer(raw, dtype=np.float32)


def _load_gallery(store: Store, s: Session, dep: Deployment, dim: int) -> _Gallery:
    key = store.keys.get(s, dep.id, "watchlist")
    rows = s.execute(
        select(WatchlistTemplate, WatchlistSubject.subject_id)
        .join(WatchlistSubject, WatchlistTemplate.subject_pk == WatchlistSubject.id)
        .where(WatchlistTemplate.deployment_id == dep.id)
        .order_by(WatchlistTemplate.position)
    ).all()
    templates = (
        np.stack([decode_template(key, t) for t, _ in rows]) if rows else np.zeros((0, dim), np.float32)
    )
    return _Gallery([sid for _, sid in rows], templates, {t.image_sha256 for t, _ in rows}, dim)


def _enrollable(dep: Deployment) -> None:
    if dep.status == "closed":
        raise GovernanceError(
            f"deployment {dep.id} is closed: its watchlist was destroyed and cannot be added to"
        )


def _prepare(
    store: Store,
    engine: FaceEngine,
    gallery: _Gallery,
    batch: Sequence[tuple[SubjectEntry, Sequence[tuple[str, bytes]]]],
    progress: Progress | None,
    lookalike_reason: str | None = None,
) -> tuple[list[_Prepared], list[Refusal], list[Refusal]]:
    """Analyse and de-duplicate every image; nothing is written. Returns (prepared, refusals, lookalikes
    accepted under ``lookalike_reason``)."""
    threshold = store.settings.governance.duplicate_similarity.get(
        engine.pack.name, engine.pack.verification_threshold
    )
    total = sum(len(images) for _, images in batch)
    done = 0
    prepared: list[_Prepared] = []
    refusals: list[Refusal] = []
    lookalikes: list[Refusal] = []
    for entry, images in batch:
        accepted: list[tuple[bytes, str, Face]] = []
        for label, data in images:
            done += 1
            sha = hashlib.sha256(data).hexdigest()
            try:
                if sha in gallery.hashes:
                    raise GovernanceError("the same image is already enrolled in this watchlist")
                face = analyse_reference(engine, data, label, store)
                assert face.embedding is not None
                other = gallery.best_other(face.embedding, entry.subject_id)
                if other is not None and other[1] >= threshold and lookalike_reason:
                    lookalikes.append(
                        Refusal(
                            entry.subject_id,
                            label,
                            f"looks like subject {other[0]} "
                            f"(similarity {other[1]:.3f} >= {threshold:.3f}); accepted: "
                            f"{lookalike_reason}",
                        )
                    )
                elif other is not None and other[1] >= threshold:
                    raise GovernanceError(
                        f"looks like subject {other[0]}, already enrolled (similarity {other[1]:.3f} >= "
                        f"{threshold:.3f}): the same person may be entered twice (if they are different "
                        "people, enrol with a lookalike reason)"
                    )
            except GovernanceError as exc:
                refusals.append(Refusal(entry.subject_id, label, str(exc)))
            else:
                gallery.add(entry.subject_id, face.embedding, sha)
                accepted.append((data, sha, face))
            if progress is not None:
                progress(done, total)
        if accepted:
            prepared.append(_Prepared(entry, accepted))
    return prepared, refusals, lookalikes


def _write(
    store: Store,
    s: Session,
    dep: Deployment,
    prepared: Sequence[_Prepared],
    who: ActorLike,
    now: datetime,
    written_blobs: list[str],
) -> int:
    key = store.keys.get(s, dep.id, "watchlist")
    position = s.scalar(
        select(func.max(WatchlistTemplate.position)).where(WatchlistTemplate.deployment_id == dep.id)
    )
    next_pos = 0 if position is None else position + 1
    n_images = 0
    for p in prepared:
        e = p.entry
        subject = WatchlistSubject(
            deployment_id=dep.id,
            subject_id=e.subject_id,
            name=e.name,
            category=e.category,
            reason=e.reason,
            image_source=e.image_source,
            legal_basis=e.legal_basis,
            approved_by=e.approved_by,
            expires_at=e.expires_at,
            date_of_birth=e.date_of_birth,
            enrolled_at=now,
            enrolled_by=str(as_actor(who)),
            offence_seriousness=e.offence_seriousness,
        )
        s.add(subject)
        s.flush([subject])
        for data, sha, face in p.images:
            assert face.embedding is not None and face.quality is not None
            blob = store.blobs.put(dep.id, key, data)
            written_blobs.append(blob)
            tmpl = WatchlistTemplate(
                id=new_id(),
                subject_pk=subject.id,
                deployment_id=dep.id,
                position=next_pos,
                image_sha256=sha,
                image_blob=blob,
                template=b"",
                embedding_size=int(face.embedding.shape[0]),
                quality_score=float(face.quality.score),
                created_at=now,
            )
            tmpl.template = encrypt(
                key, face.embedding.astype(np.float32).tobytes(), _template_aad(dep.id, tmpl.id)
            )
            s.add(tmpl)
            next_pos += 1
            n_images += 1
    return n_images


def _check_new_ids(s: Session, dep: Deployment, entries: Sequence[SubjectEntry]) -> None:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.subject_id] = counts.get(e.subject_id, 0) + 1
    repeated = sorted(sid for sid, n in counts.items() if n > 1)
    if repeated:
        raise GovernanceError(f"subject ids appear more than once: {', '.join(repeated[:20])}")
    existing = set(
        s.scalars(
            select(WatchlistSubject.subject_id).where(
                WatchlistSubject.deployment_id == dep.id,
                WatchlistSubject.subject_id.in_([e.subject_id for e in entries]),
            )
        )
    )
    if existing:
        raise GovernanceError(f"already on this watchlist: {', '.join(sorted(existing)[:20])}")


def _enrol_batch(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    batch: Sequence[tuple[SubjectEntry, Sequence[tuple[str, bytes]]]],
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
    batch = [(validate_entry(e, now), imgs) for e, imgs in batch]
    for e, imgs in batch:
        if not imgs:
            raise GovernanceError(f"subject {e.subject_id}: no reference image given")
    with store.session() as s:
        dep = load(s, deployment_id)
        _enrollable(dep)
        _check_new_ids(s, dep, [e for e, _ in batch])
        eng = engine or load_engine(dep.pack, store.settings)
        if eng.pack.name != dep.pack:
            raise GovernanceError(f"deployment {dep.id} uses pack {dep.pack}, not {eng.pack.name}")
        gallery = _load_gallery(store, s, dep, eng.embedding_size)
    # Analysis (the slow part) runs outside any transaction, so the live pipeline is not blocked meanwhile.
    reason = (lookalike_reason or "").strip() or None
    prepared, refusals, lookalikes = _prepare(store, eng, gallery, batch, progress, reason)
    report = ImportReport(deployment_id=deployment_id, refused=refusals, lookalikes=lookalikes)
    refused_ids = sorted({r.subject_id for r in refusals} - {p.entry.subject_id for p in prepared})
    report.subjects_refused = refused_ids
    if refusals and not allow_partial:
        raise EnrolmentError(
            f"nothing enrolled: {len(refusals)} image(s) refused" + (f" ({source})" if source else ""),
            refusals,
        )
    if not prepared:
        raise EnrolmentError("nothing enrolled: every image was refused", refusals)
    written: list[str] = []
    try:
        with store.session() as s:
            dep = load(s, deployment_id, for_update=True)
            _enrollable(dep)  # it may have closed while we analysed
            _check_new_ids(s, dep, [p.entry for p in prepared])
            report.images_enrolled = _write(store, s, dep, prepared, who, now, written)
            report.subjects_enrolled = len(prepared)
            for p in prepared:
                record(
                    s,
                    who,
                    "watchlist.enrol",
                    deployment_id=dep.id,
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
                        "image_sha256": [sha for _, sha, _ in p.images],
                        "source": source,
                    },
                )
            for r in refusals:
                record(
                    s,
                    who,
                    "watchlist.refuse",
                    deployment_id=dep.id,
                    target=r.subject_id,
                    at=now,
                    details={"image": r.image, "reason": r.reason, "source": source},
                )
            for r in lookalikes:
                record(
                    s,
                    who,
                    "watchlist.lookalike_override",
                    deployment_id=dep.id,
                    target=r.subject_id,
                    at=now,
                    details={"image": r.image, "finding": r.reason, "reason": reason, "source": source},
                )
    except BaseException:
        store.blobs.delete_many(deployment_id, written)  # nothing half-imported: no orphan files either
        raise
    return report


def enrol_subject(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    entry: SubjectEntry,
    images: Sequence[Path | tuple[str, bytes]],
    *,
    engine: FaceEngine | None = None,
    allow_partial: bool = False,
    lookalike_reason: str | None = None,
    clock: Clock = utcnow,
) -> ImportReport:
    """Enrol one subject with one or more reference images (paths, or (label, bytes) pairs).

    An image that looks like another enrolled subject is refused unless ``lookalike_reason`` says why they
    are different people (e.g. "twins, both named in warrants"); that decision is audited."""
    loaded = [_read_image(i) for i in images]
    return _enrol_batch(
        store,
        actor,
        deployment_id,
        [(entry, loaded)],
        engine=engine,
        allow_partial=allow_partial,
        progress=None,
        clock=clock,
        source="",
        lookalike_reason=lookalike_reason,
    )


def _read_image(item: Path | tuple[str, bytes]) -> tuple[str, bytes]:
    if isinstance(item, tuple):
        return item
    try:
        return str(item), Path(item).read_bytes()
    except FileNotFoundError as exc:
        raise GovernanceError(f"image {item} not found") from exc
    except OSError as exc:
        raise GovernanceError(f"image {item} cannot be read ({exc.strerror or exc})") from exc


def read_watchlist_csv(
    csv_path: Path, image_dir: Path, now: datetime
) -> list[tuple[SubjectEntry, list[tuple[str, Path]]]]:
    """Parse and check a whole watchlist CSV; every problem found is reported at once, by line."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise GovernanceError(f"{csv_path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise GovernanceError(f"{csv_path}: not UTF-8 text ({exc.reason})") from exc
    try:
        rows = list(csv.reader(io.StringIO(text), strict=True))
    except csv.Error as exc:
        raise GovernanceError(f"{csv_path}: malformed CSV ({exc})") from exc
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise GovernanceError(f"{csv_path}: empty file (expected a header: {', '.join(CSV_COLUMNS)})")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    if missing:
        raise GovernanceError(
            f"{csv_path}: header lacks column(s) {', '.join(missing)} "
            f"(required: {', '.join(CSV_COLUMNS)}; optional: {', '.join(CSV_OPTIONAL)})"
        )
    unknown = [h for h in header if h not in CSV_COLUMNS + CSV_OPTIONAL]
    if unknown:
        raise GovernanceError(f"{csv_path}: unknown column(s) {', '.join(unknown)}")
    if len(rows) == 1:
        raise GovernanceError(f"{csv_path}: no subjects (only a header)")
    problems: list[str] = []
    out: list[tuple[SubjectEntry, list[tuple[str, Path]]]] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(rows[1:], start=2):
        if len(raw) != len(header):
            problems.append(f"line {lineno}: {len(raw)} fields, the header has {len(header)}")
            continue
        row = dict(zip(header, (c.strip() for c in raw), strict=True))
        try:
            expires = parse_time(row["expires_at"], "expiry") if row["expires_at"] else None
            if expires is None:
                raise GovernanceError("expires_at is required")
            dob = parse_date(row["date_of_birth"], "date of birth") if row.get("date_of_birth") else None
            entry = validate_entry(
                SubjectEntry(
                    subject_id=row["subject_id"],
                    category=row["category"],
                    reason=row["reason"],
                    image_source=row["image_source"],
                    legal_basis=row["legal_basis"],
                    approved_by=row["approved_by"],
                    expires_at=expires,
                    name=row.get("name") or None,
                    date_of_birth=dob,
                    offence_seriousness=row.get("offence_seriousness") or None,
                ),
                now,
            )
            if entry.subject_id in seen:
                raise GovernanceError(f"subject id {entry.subject_id} repeats line {seen[entry.subject_id]}")
            seen[entry.subject_id] = lineno
            names = [n.strip() for n in row["images"].replace("|", ";").split(";") if n.strip()]
            if not names:
                raise GovernanceError("no image named in the images column")
            paths = []
            base = image_dir.resolve()
            for n in names:
                p = (image_dir / n).resolve()
                if not p.is_relative_to(base):
                    raise GovernanceError(f"image {n} is outside the image folder")
                if not p.is_file():
                    raise GovernanceError(f"image {n} not found in {image_dir}")
                paths.append((n, p))
            out.append((entry, paths))
        except GovernanceError as exc:
            problems.append(f"line {lineno}: {exc}")
    if problems:
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        raise GovernanceError(
            f"{csv_path}: nothing imported, {len(problems)} problem(s):\n  - "
            + "\n  - ".join(problems[:50])
            + more
        )
    return out


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
) -> ImportReport:
    """Import a watchlist CSV (columns :data:`CSV_COLUMNS`, optional :data:`CSV_OPTIONAL`; ``images`` holds
    one or more file names relative to ``image_dir``, separated by ``;``). All or nothing, see the module."""
    folder = image_dir or csv_path.parent
    parsed = read_watchlist_csv(csv_path, folder, clock())
    batch = [(entry, [(name, _read_image(path)[1]) for name, path in images]) for entry, images in parsed]
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


def list_subjects(store: Store, deployment_id: str) -> list[SubjectInfo]:
    with store.session() as s:
        load(s, deployment_id)
        counts = dict(
            s.execute(
                select(WatchlistTemplate.subject_pk, func.count())
                .where(WatchlistTemplate.deployment_id == deployment_id)
                .group_by(WatchlistTemplate.subject_pk)
            )
            .tuples()
            .all()
        )
        subjects = s.scalars(
            select(WatchlistSubject)
            .where(WatchlistSubject.deployment_id == deployment_id)
            .order_by(WatchlistSubject.subject_id)
        )
        return [
            SubjectInfo(x.subject_id, x.category, x.reason, x.name, x.expires_at, counts.get(x.id, 0))
            for x in subjects
        ]
