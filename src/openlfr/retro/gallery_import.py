"""Gallery import: reading the import CSV, analysing each custody image (the dominant face and the flags a
reviewer sees: several faces, subject unclear, low quality) and storing images and templates under the
gallery's key, resumably.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import select

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlists import parse_date
from openlfr.retro.gallery_keys import (
    GalleryError,
    _create_gallery,
    _template_aad,
    blob_folder,
    gallery_key,
)
from openlfr.retro.saved_index import (
    _exclusive,
    load_index,
    save_index,
)
from openlfr.store import Store, utcnow
from openlfr.store.crypto import DataKey, encrypt
from openlfr.store.models import Gallery, GalleryTemplate
from openlfr.vision.engine import FaceEngine
from openlfr.vision.face import Face, FloatArray
from openlfr.vision.image_io import ImageError, load_image

REQUIRED_COLUMNS = ("record_id", "image")


@dataclass(frozen=True)
class GalleryRow:
    """One line of an import CSV."""

    line: int
    record_id: str
    image: Path
    custody_date: date | None = None
    date_of_birth: date | None = None


@dataclass
class GalleryImportReport:
    imported: int = 0
    already_imported: int = 0
    """Images found in the gallery already (a resumed import, or the same file listed twice)."""
    refused: list[tuple[int, str, str, str]] = field(default_factory=list)
    """``(line, record_id, image, reason)`` for each image not imported."""
    possible_duplicates: list[tuple[str, str, float]] = field(default_factory=list)
    """``(record_id, other record_id, score)``: imported, but the face looks like another record's."""
    flagged: list[tuple[int, str, str, tuple[str, ...]]] = field(default_factory=list)
    """``(line, record_id, image, flags)``: imported with flags (several faces, low quality) a reviewer sees."""
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def images_per_second(self) -> float:
        return self.imported / self.seconds if self.seconds > 0 else 0.0


# --- custody image analysis --------------------------------------------------------------------------


@dataclass(frozen=True)
class CustodyFace:
    """The face a custody image is enrolled with, and why a reviewer should look twice at it."""

    face: Face
    flags: tuple[str, ...]


def _prominence(face: Face, shape: tuple[int, ...]) -> float:
    """Area, discounted by distance from the image centre (a custody photo is framed on its subject)."""
    h, w = shape[:2]
    cx, cy = face.centre
    off = float(np.hypot((cx - w / 2) / w, (cy - h / 2) / h))
    return float(face.width * face.height) * (1.0 - min(off, 0.5))


def analyse_custody_image(engine: FaceEngine, data: bytes, label: str, store: Store) -> CustodyFace:
    """The face to enrol from a custody image. Refused (:class:`GalleryError`) only when the image cannot be
    read or shows no face: a refused record can never be found, so several faces enrol the most prominent
    (area x centrality) and low quality enrols as it is, each with a flag the reviewer sees. The
    watchlist's stricter rules (``governance.watchlists.analyse_reference``) are not used here."""
    vs = store.settings.vision
    try:
        image = load_image(data, name=label, max_pixels=vs.max_image_pixels, max_bytes=vs.max_image_bytes)
    except ImageError as exc:
        raise GalleryError(str(exc)) from exc
    faces = engine.analyse(image, pad=0.0)
    if not faces:  # tight crops (custody-style) need a border before a scene detector finds the face
        faces = engine.analyse(image, pad=0.5)
    if not faces:
        raise GalleryError("no face found")
    ranked = sorted(faces, key=lambda f: -_prominence(f, image.shape))
    face = ranked[0]
    assert face.quality is not None and face.embedding is not None
    flags: list[str] = []
    if len(ranked) > 1:
        flags.append(f"several faces: {len(ranked)} found, the largest and most central was enrolled")
        ratio = _prominence(face, image.shape) / max(_prominence(ranked[1], image.shape), 1e-9)
        margin = store.settings.retro.dominant_face_margin
        if ratio < margin:
            flags.append(
                f"subject unclear: the enrolled face is only {ratio:.2f} times as prominent as the next "
                f"(margin {margin:.2f}); check it is the record's subject"
            )
    q = face.quality
    bar = store.settings.quality.enrol_min_score
    low = list(q.reasons)
    if q.score < bar:
        low.append(f"quality score {q.score:.2f} < {bar:.2f}")
    if low:
        flags.append("low quality: " + "; ".join(low))
    return CustodyFace(face, tuple(flags))


# --- import ------------------------------------------------------------------------------------------


def read_gallery_csv(csv_path: Path, images_dir: Path) -> list[GalleryRow]:
    """Parse an import CSV (header at least ``record_id,image``; optional ``date``, ``date_of_birth``).

    Every malformed line is reported at once. Images are checked later, one by one, so that one bad
    image is a refusal in the quality report rather than the end of the import."""
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise GalleryError(f"{csv_path}: file not found") from exc
    except UnicodeDecodeError as exc:
        raise GalleryError(f"{csv_path}: not UTF-8 text ({exc.reason})") from exc
    if not images_dir.is_dir():
        raise GalleryError(
            f"{images_dir}: not a folder (--images must be the folder the CSV's images are in)"
        )
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise GalleryError(
            f"{csv_path}: the header must name at least {', '.join(REQUIRED_COLUMNS)}; missing: "
            f"{', '.join(missing)} (found: {', '.join(header) or 'nothing'})"
        )
    rows: list[GalleryRow] = []
    problems: list[str] = []
    root = images_dir.resolve()
    for n, raw in enumerate(reader, start=2):
        rec = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        record_id, image = rec.get("record_id", ""), rec.get("image", "")
        if not record_id or not image:
            problems.append(f"line {n}: record_id and image are required")
            continue
        path = (images_dir / image).resolve()
        if not path.is_relative_to(root):
            problems.append(f"line {n}: image {image!r} is outside the images folder")
            continue
        try:
            custody = parse_date(rec["date"], "date") if rec.get("date") else None
            dob = parse_date(rec["date_of_birth"], "date_of_birth") if rec.get("date_of_birth") else None
        except GovernanceError as exc:
            problems.append(f"line {n}: {exc}")
            continue
        rows.append(GalleryRow(n, record_id, path, custody, dob))
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise GalleryError(f"{csv_path}: " + "; ".join(shown))
    return rows


def _remove_orphan_blobs(store: Store, gallery_id: str) -> int:
    """Blobs written by an import killed before its commit: ciphertext no row refers to."""
    folder = store.blobs.root / blob_folder(gallery_id)
    if not folder.is_dir():
        return 0
    with store.session() as s:
        known = set(
            s.scalars(select(GalleryTemplate.image_blob).where(GalleryTemplate.gallery_id == gallery_id))
        )
    gone = 0
    for p in folder.iterdir():
        if p.suffix in (".bin", ".tmp") and p.stem not in known:
            p.unlink(missing_ok=True)
            gone += 1
    return gone


def import_gallery(
    store: Store,
    engine: FaceEngine,
    rows: Sequence[GalleryRow],
    actor: ActorLike,
    *,
    gallery_name: str | None = None,
    progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> GalleryImportReport:
    """Import rows into the gallery, resumably: images already in it (by SHA-256) are skipped, work is
    committed every ``retro.import_checkpoint`` images, and a cancelled or killed import keeps what it
    committed and nothing else."""
    name = gallery_name or store.settings.retro.gallery
    gallery = _create_gallery(store, name, engine, actor)
    key = gallery_key(store, gallery)
    with _exclusive(
        store, gallery.id, f"another import into gallery {name!r} is running; wait for it to finish"
    ):
        return _import_locked(store, engine, rows, actor, gallery, key, name, progress, cancel)


def _import_locked(
    store: Store,
    engine: FaceEngine,
    rows: Sequence[GalleryRow],
    actor: ActorLike,
    gallery: Gallery,
    key: DataKey,
    name: str,
    progress: Callable[[int], None] | None,
    cancel: threading.Event | None,
) -> GalleryImportReport:
    _remove_orphan_blobs(store, gallery.id)
    loaded = load_index(store, gallery, key)
    dup_bar = store.settings.governance.duplicate_similarity.get(engine.pack.name, 0.55)
    report = GalleryImportReport()
    started = time.perf_counter()
    with store.session() as s:
        seen = set(
            s.scalars(select(GalleryTemplate.image_sha256).where(GalleryTemplate.gallery_id == gallery.id))
        )
    pending: list[GalleryTemplate] = []
    pending_vecs: list[FloatArray] = []
    folder = blob_folder(gallery.id)

    def flush() -> None:
        if not pending:
            return
        with store.session() as s:
            s.add_all(pending)
            s.flush()
            audit.record(
                s,
                actor,
                "gallery.import",
                target=gallery.id,
                details={
                    "gallery": name,
                    "images": len(pending),
                    "records": sorted({p.record_id for p in pending})[:50],
                },
            )
        with loaded.lock:
            loaded.index.add([p.id for p in pending], np.stack(pending_vecs))
            loaded.watermark = max(loaded.watermark, max(p.id for p in pending))
        report.imported += len(pending)
        pending.clear()
        pending_vecs.clear()

    def record_of(template_id: int) -> str | None:
        for p in pending:
            if p.id == template_id:
                return p.record_id
        with store.session() as s:
            return s.scalar(select(GalleryTemplate.record_id).where(GalleryTemplate.id == template_id))

    try:
        for row in rows:
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                break
            if progress:
                progress(1)
            try:
                data = row.image.read_bytes()
            except FileNotFoundError:
                report.refused.append((row.line, row.record_id, str(row.image), "image file not found"))
                continue
            except OSError as exc:
                report.refused.append((row.line, row.record_id, str(row.image), f"cannot be read ({exc})"))
                continue
            sha = hashlib.sha256(data).hexdigest()
            if sha in seen:
                report.already_imported += 1
                continue
            try:
                analysed = analyse_custody_image(engine, data, str(row.image), store)
            except GovernanceError as exc:
                report.refused.append((row.line, row.record_id, str(row.image), str(exc)))
                continue
            face = analysed.face
            assert face.embedding is not None and face.quality is not None
            if analysed.flags:
                report.flagged.append((row.line, row.record_id, str(row.image), analysed.flags))
            emb = face.embedding.astype(np.float32)
            # Duplicate detection: the same face under another record id (a data-quality problem to fix
            # at source, not grounds to refuse a custody image); reported, and imported.
            with loaded.lock:
                hits = loaded.index.search(emb[None, :], 3)[0] if len(loaded.index) else []
            if pending_vecs:  # images of this batch are not in the index until it is committed
                sims = np.stack(pending_vecs) @ emb
                j = int(np.argmax(sims))
                if sims[j] >= dup_bar and pending[j].record_id != row.record_id:
                    report.possible_duplicates.append(
                        (row.record_id, pending[j].record_id, round(float(sims[j]), 3))
                    )
                    hits = []
            for h in hits:
                if h.score < dup_bar:
                    break
                other = record_of(h.template_id)
                if other is not None and other != row.record_id:
                    report.possible_duplicates.append((row.record_id, other, round(h.score, 3)))
                    break
            blob = store.blobs.put(folder, key, data)
            t = GalleryTemplate(
                gallery_id=gallery.id,
                record_id=row.record_id,
                custody_date=row.custody_date,
                date_of_birth=row.date_of_birth,
                image_sha256=sha,
                image_blob=blob,
                template=encrypt(key, emb.tobytes(), _template_aad(gallery.id, sha)),
                quality_score=float(face.quality.score),
                created_at=utcnow(),
                flags=list(analysed.flags) or None,
            )
            seen.add(sha)
            pending.append(t)
            pending_vecs.append(emb)
            if len(pending) >= store.settings.retro.import_checkpoint:
                flush()
        flush()
    finally:
        report.seconds = time.perf_counter() - started
        save_index(store, gallery, key)
    with store.session() as s:
        audit.record(
            s,
            actor,
            "gallery.import.summary",
            target=gallery.id,
            details={
                "gallery": name,
                "imported": report.imported,
                "already_imported": report.already_imported,
                "refused": len(report.refused),
                "possible_duplicates": len(report.possible_duplicates),
                "flagged": len(report.flagged),
                "cancelled": report.cancelled,
            },
        )
    return report
