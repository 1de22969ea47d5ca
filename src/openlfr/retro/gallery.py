"""The gallery: custody records imported from a CSV, encrypted with the gallery's own key, and its index.

Each image becomes one ``GalleryTemplate`` row (integer id = its id in the gallery index): the image as an
encrypted blob under ``gallery-<id>``, the template as AES-GCM ciphertext in the row. The gallery's data
key is wrapped by the master key; destroying it makes every image and template unreadable.

The index (``openlfr.matching.gallery_index``) is saved encrypted under the same key in
``<data_dir>/galleries/<id>/index.bin`` with a watermark (the highest template id it holds). Opening it adds
rows above the watermark, so an import that was interrupted between a database commit and an index save
loses nothing. Every search maps hits back to rows that still exist, so a removed record is never returned,
even by a process whose index in memory predates the removal.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import struct
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.watchlists import parse_date
from openlfr.matching.gallery_index import ExactGalleryIndex, GalleryIndex, IvfGalleryIndex, suggested_lists
from openlfr.store import Store, utcnow
from openlfr.store.blobs import gallery_blob_folder
from openlfr.store.crypto import CryptoError, DataKey, KeyDestroyed, KeyRing, decrypt, encrypt, new_data_key
from openlfr.store.db import gallery_key_label, gallery_template_aad
from openlfr.store.models import Gallery, GalleryTemplate
from openlfr.vision.engine import FaceEngine
from openlfr.vision.face import Face, FloatArray
from openlfr.vision.image_io import ImageError, load_image

REQUIRED_COLUMNS = ("record_id", "image")
_WATERMARK = struct.Struct("<q")


class GalleryError(GovernanceError):
    """Bad gallery input or request; the message says which and why."""


class GalleryIndexError(GalleryError):
    """The gallery's saved index cannot be read (corrupt, truncated, or not this gallery's). The templates
    are intact in the database: ``openlfr gallery reindex`` rebuilds the index from them."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


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


@dataclass(frozen=True)
class GalleryCandidate:
    """A gallery record returned for a probe: best template's id and score, rank 1 = best."""

    record_id: str
    template_id: int
    score: float
    rank: int


@dataclass(frozen=True)
class GalleryStats:
    name: str
    gallery_id: str
    pack: str
    records: int
    templates: int
    indexed: int
    index_kind: str
    created_at: datetime
    flagged_records: int = 0
    """Records with at least one image imported with a flag (several faces, subject unclear, low quality)."""
    flags: dict[str, int] = field(default_factory=dict)
    """Images per kind of flag (the text before the first colon)."""


# --- the gallery row and its key ---------------------------------------------------------------------


_key_label = gallery_key_label


blob_folder = gallery_blob_folder


def get_gallery(session: Session, name: str) -> Gallery:
    g = session.scalar(select(Gallery).where(Gallery.name == name))
    if g is None:
        raise NotFound(f"no gallery named {name!r} (import one with `openlfr gallery import`)")
    return g


def _create_gallery(store: Store, name: str, engine: FaceEngine, actor: ActorLike) -> Gallery:
    with store.session() as s:
        existing = s.scalar(select(Gallery).where(Gallery.name == name))
        if existing is not None:
            if existing.pack != engine.pack.name:
                raise GalleryError(
                    f"gallery {name!r} holds {existing.pack} templates; import it with that pack, not "
                    f"{engine.pack.name}"
                )
            return existing
        g = Gallery(name=name, pack=engine.pack.name, embedding_size=engine.embedding_size)
        g.created_at = utcnow()
        g.created_by = str(audit.as_actor(actor))
        s.add(g)
        s.flush()
        g.wrapped_key = store.keys.master.wrap(new_data_key(), _key_label(g.id))
        audit.record(s, actor, "gallery.create", target=g.id, details={"name": name, "pack": g.pack})
        return g


def gallery_key(store: Store, gallery: Gallery) -> KeyRing:
    """The gallery's key ring: new data goes under the newest generation (issue 25: rotation starts one)."""
    if gallery.wrapped_key is None:
        raise KeyDestroyed(f"the key of gallery {gallery.name!r} was destroyed")
    return store.key_ring(_key_label(gallery.id), gallery.wrapped_key)


_template_aad = gallery_template_aad


def decode_template(key: DataKey, gallery_id: str, row: GalleryTemplate) -> FloatArray:
    return np.frombuffer(decrypt(key, row.template, _template_aad(gallery_id, row.image_sha256)), np.float32)


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


# --- the index ---------------------------------------------------------------------------------------


def index_path(store: Store, gallery_id: str) -> Path:
    return store.settings.data_dir / "galleries" / gallery_id / "index.bin"


@contextmanager
def _exclusive(store: Store, gallery_id: str, busy: str) -> Iterator[None]:
    """Hold the gallery's import lock (one import or reindex at a time; the OS releases it even when the
    process is killed); ``busy`` is the error when another holds it."""
    lock_path = index_path(store, gallery_id).with_name("import.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise GalleryError(busy) from exc
        yield


def _new_index(store: Store, dim: int, expected: int = 0) -> GalleryIndex:
    """An empty index with the current ``retro`` settings. ``expected`` (a reindex knows the count) sizes
    the IVF lists for the whole gallery and trains on enough of it for that many lists."""
    rs = store.settings.retro
    if rs.index == "exact":
        return ExactGalleryIndex(dim)
    nlist = suggested_lists(expected) if expected > rs.train_after else None
    return IvfGalleryIndex(
        dim,
        probe_share=rs.probe_share,
        train_after=max(rs.train_after, 40 * nlist) if nlist else rs.train_after,
        nlist=nlist,
        refine_factor=rs.refine_factor,
        codes=rs.index_codes,
    )


@dataclass
class _Loaded:
    index: GalleryIndex
    watermark: int
    lock: threading.Lock = field(default_factory=threading.Lock)


# One loaded index per (database, gallery) in this process: the API serves many searches from it.
_indexes: dict[tuple[str, str], _Loaded] = {}
_indexes_lock = threading.Lock()


def _cache_key(store: Store, gallery_id: str) -> tuple[str, str]:
    return (str(store.settings.data_dir) + "|" + store.settings.database_url, gallery_id)


def _read_index(store: Store, gallery: Gallery, key: DataKey) -> _Loaded:
    path = index_path(store, gallery.id)
    if not path.is_file():
        # No index yet (or it was deleted): every row is above watermark 0, so load_index adds them all.
        return _Loaded(_new_index(store, gallery.embedding_size), 0)
    try:
        raw = decrypt(key, path.read_bytes(), f"gallery/{gallery.id}/index".encode())
    except CryptoError as exc:
        raise _unreadable(
            gallery, path, "it does not decrypt with the gallery's key (corrupt or altered)"
        ) from exc
    try:
        (watermark,) = _WATERMARK.unpack_from(raw)
        body = raw[_WATERMARK.size :]
        index: GalleryIndex
        if body[:1] == b"E":
            z = np.load(io.BytesIO(body[1:]), allow_pickle=False)
            index = ExactGalleryIndex(gallery.embedding_size)
            if z["ids"].size:
                index.add(z["ids"], z["vectors"])
        elif body[:1] == b"I":
            rs = store.settings.retro
            index = IvfGalleryIndex.from_bytes(body[1:], rs.probe_share, rs.refine_factor)
        else:
            raise ValueError(f"unknown index kind {body[:1]!r}")
    except (ValueError, KeyError, OSError, EOFError, RuntimeError, struct.error, zipfile.BadZipFile) as exc:
        # numpy, zipfile and FAISS each fail their own way on a damaged body: one message for all.
        raise _unreadable(gallery, path, f"its contents are damaged ({type(exc).__name__}: {exc})") from exc
    if index.dim != gallery.embedding_size:
        raise _unreadable(
            gallery, path, f"it holds {index.dim}-d templates, the gallery {gallery.embedding_size}-d ones"
        )
    return _Loaded(index, watermark)


def _unreadable(gallery: Gallery, path: Path, why: str) -> GalleryIndexError:
    return GalleryIndexError(
        f"the index of gallery {gallery.name!r} ({path}) cannot be read: {why}. The custody templates are "
        f"intact; rebuild the index with `openlfr gallery reindex --gallery {gallery.name} --reason ...`",
        why,
    )


def save_index(store: Store, gallery: Gallery, key: DataKey) -> None:
    """Write the loaded index (encrypted, atomically: a crash leaves the previous file)."""
    loaded = _indexes.get(_cache_key(store, gallery.id))
    if loaded is None:
        return
    with loaded.lock:
        if isinstance(loaded.index, IvfGalleryIndex):
            body = b"I" + loaded.index.to_bytes()
        else:
            assert isinstance(loaded.index, ExactGalleryIndex)
            buf = io.BytesIO()
            np.savez(buf, ids=loaded.index.ids, vectors=loaded.index.vectors)
            body = b"E" + buf.getvalue()
        data = encrypt(key, _WATERMARK.pack(loaded.watermark) + body, f"gallery/{gallery.id}/index".encode())
    path = index_path(store, gallery.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def load_index(store: Store, gallery: Gallery, key: DataKey) -> _Loaded:
    """The gallery's index, brought up to date with the database (rows above its watermark added)."""
    ck = _cache_key(store, gallery.id)
    with _indexes_lock:
        loaded = _indexes.get(ck)
        if loaded is None:
            loaded = _read_index(store, gallery, key)
            _indexes[ck] = loaded
    with loaded.lock, store.session() as s:
        rows = s.scalars(
            select(GalleryTemplate)
            .where(GalleryTemplate.gallery_id == gallery.id, GalleryTemplate.id > loaded.watermark)
            .order_by(GalleryTemplate.id)
        ).all()
        if rows:
            vecs = np.stack([decode_template(key, gallery.id, r) for r in rows])
            loaded.index.add([r.id for r in rows], vecs)
            loaded.watermark = rows[-1].id
    return loaded


def forget_loaded_indexes() -> None:
    """Drop every index held in this process (tests; a key destroyed)."""
    with _indexes_lock:
        _indexes.clear()


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


# --- removal, stats, search --------------------------------------------------------------------------


def remove_record(
    store: Store, record_id: str, actor: ActorLike, reason: str, gallery_name: str | None = None
) -> int:
    """Remove every image and template of a record: gone from the index before this returns, then from
    the database and the blob store; audited. Returns how many images were removed."""
    if not reason.strip():
        raise GalleryError("a removal needs a reason (e.g. 'no further action: not charged')")
    name = gallery_name or store.settings.retro.gallery
    with store.session() as s:
        gallery = get_gallery(s, name)
        rows = s.execute(
            select(GalleryTemplate.id, GalleryTemplate.image_blob).where(
                GalleryTemplate.gallery_id == gallery.id, GalleryTemplate.record_id == record_id
            )
        ).all()
        if not rows:
            raise NotFound(f"gallery {name!r} holds no record {record_id!r}")
        ids = [r[0] for r in rows]
        s.execute(delete(GalleryTemplate).where(GalleryTemplate.id.in_(ids)))
        audit.record(
            s,
            actor,
            "gallery.remove",
            target=record_id,
            details={"gallery": name, "images": len(ids), "reason": reason},
        )
    key = gallery_key(store, gallery)
    try:
        loaded = _indexes.get(_cache_key(store, gallery.id)) or load_index(store, gallery, key)
    except GalleryIndexError:
        # The saved index is unreadable: the rows are gone already (searches only return live rows) and a
        # reindex builds from the rows that remain, so the removal holds; the images still go below.
        loaded = None
    if loaded is not None:
        with loaded.lock:
            loaded.index.remove(ids)
        save_index(store, gallery, key)
    store.blobs.delete_many(blob_folder(gallery.id), [r[1] for r in rows])
    return len(ids)


@dataclass(frozen=True)
class ReindexReport:
    gallery: str
    templates: int
    index_kind: str
    previous: str
    """What the saved index was before: ``readable``, ``missing`` or the reason it could not be read."""
    seconds: float


REINDEX_BATCH = 5000
"""Templates decrypted and added at a time (bounds memory: a million 128-d templates would be 512 MB)."""


def reindex_gallery(
    store: Store,
    actor: ActorLike,
    reason: str,
    *,
    gallery_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReindexReport:
    """Rebuild a gallery's index from its stored encrypted templates, with the current settings
    (``retro.index``, ``index_codes``, ``probe_share``, ``refine_factor``, ``train_after``; the IVF lists
    are sized for the gallery's count): after the index file was lost or
    damaged, or to apply changed index settings. The new index replaces the old one only once complete
    (written atomically), and the rebuild is audited. Imports into the gallery wait for it."""
    if not reason.strip():
        raise GalleryError("a reindex needs a reason (e.g. 'index file corrupt', 'probe_share changed')")
    name = gallery_name or store.settings.retro.gallery
    started = time.perf_counter()
    with store.session() as s:
        gallery = get_gallery(s, name)
        total = int(
            s.scalar(select(func.count(GalleryTemplate.id)).where(GalleryTemplate.gallery_id == gallery.id))
            or 0
        )
    key = gallery_key(store, gallery)
    path = index_path(store, gallery.id)
    try:
        previous = "readable" if path.is_file() and _read_index(store, gallery, key) else "missing"
    except GalleryIndexError as exc:
        previous = exc.why
    with _exclusive(
        store, gallery.id, f"an import into gallery {name!r} is running; reindex when it has finished"
    ):
        index = _new_index(store, gallery.embedding_size, expected=total)
        watermark, done = 0, 0
        if progress is not None:
            progress(0, total)
        while True:
            with store.session() as s:
                rows = s.scalars(
                    select(GalleryTemplate)
                    .where(GalleryTemplate.gallery_id == gallery.id, GalleryTemplate.id > watermark)
                    .order_by(GalleryTemplate.id)
                    .limit(REINDEX_BATCH)
                ).all()
                if not rows:
                    break
                try:
                    vecs = np.stack([decode_template(key, gallery.id, r) for r in rows])
                except CryptoError as exc:
                    raise GalleryError(
                        f"gallery {name!r}: a stored template does not decrypt ({exc}); nothing was changed"
                    ) from exc
                index.add([r.id for r in rows], vecs)
                watermark = rows[-1].id
                done += len(rows)
            if progress is not None:
                progress(done, max(total, done))
        with _indexes_lock:
            _indexes[_cache_key(store, gallery.id)] = _Loaded(index, watermark)
        save_index(store, gallery, key)
    seconds = time.perf_counter() - started
    kind = type(index).__name__ + (
        f" ({'trained' if index.trained else 'exact buffer until trained'}, {index.codes}, nprobe {index.nprobe})"
        if isinstance(index, IvfGalleryIndex)
        else ""
    )
    with store.session() as s:
        audit.record(
            s,
            actor,
            "gallery.reindex",
            target=gallery.id,
            details={
                "gallery": name,
                "templates": done,
                "index": kind,
                "previous_index": previous,
                "reason": reason,
                "seconds": round(seconds, 2),
            },
        )
    return ReindexReport(name, done, kind, previous, seconds)


def gallery_stats(store: Store, gallery_name: str | None = None) -> GalleryStats:
    name = gallery_name or store.settings.retro.gallery
    with store.session() as s:
        g = get_gallery(s, name)
        templates, records = s.execute(
            select(
                func.count(GalleryTemplate.id), func.count(func.distinct(GalleryTemplate.record_id))
            ).where(GalleryTemplate.gallery_id == g.id)
        ).one()
        flagged_rows = s.execute(
            select(GalleryTemplate.record_id, GalleryTemplate.flags).where(
                GalleryTemplate.gallery_id == g.id, GalleryTemplate.flags.is_not(None)
            )
        ).all()
    flagged_records = {str(r) for r, f in flagged_rows if f}
    kinds: dict[str, int] = {}
    for _, f in flagged_rows:
        for flag in f or ():
            kind = str(flag).split(":", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    loaded = _indexes.get(_cache_key(store, g.id))
    indexed = len(loaded.index) if loaded is not None else -1
    kind = type(loaded.index).__name__ if loaded is not None else store.settings.retro.index
    return GalleryStats(
        name,
        g.id,
        g.pack,
        int(records),
        int(templates),
        indexed,
        kind,
        g.created_at,
        len(flagged_records),
        dict(sorted(kinds.items())),
    )


def search_gallery(
    store: Store, gallery: Gallery, key: DataKey, embeddings: FloatArray, k: int
) -> list[list[GalleryCandidate]]:
    """Top ``k`` records for each probe embedding, best first (a record scores by its best image)."""
    loaded = load_index(store, gallery, key)
    probes = np.atleast_2d(embeddings)
    # Several images per record, and hits removed by another process, are folded away: fetch more until
    # k records are found or the index is exhausted.
    fetch = k * 3 + 5
    while True:
        with loaded.lock:
            hits = loaded.index.search(probes, fetch)
            size = len(loaded.index)
        wanted = {h.template_id for row in hits for h in row}
        live: dict[int, str] = {}
        if wanted:
            with store.session() as s:
                found = s.execute(
                    select(GalleryTemplate.id, GalleryTemplate.record_id).where(
                        GalleryTemplate.gallery_id == gallery.id, GalleryTemplate.id.in_(wanted)
                    )
                )
                for tid, rec in found:
                    live[int(tid)] = str(rec)
        short = any(len({live[h.template_id] for h in row if h.template_id in live}) < k for row in hits)
        if not short or fetch >= size:
            break
        fetch = min(fetch * 4, size)
    out: list[list[GalleryCandidate]] = []
    for row in hits:
        best: dict[str, tuple[int, float]] = {}
        for h in row:
            rec = live.get(h.template_id)
            if rec is not None and (rec not in best or h.score > best[rec][1]):
                best[rec] = (h.template_id, h.score)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][1])[:k]
        out.append(
            [GalleryCandidate(rec, tid, float(sc), r + 1) for r, (rec, (tid, sc)) in enumerate(ranked)]
        )
    return out


def read_gallery_image(
    store: Store, gallery: Gallery, key: DataKey, template_id: int, actor: ActorLike, why: str
) -> bytes:
    """A custody image (decrypted), audited as a read of biometric data."""
    with store.session() as s:
        row = s.get(GalleryTemplate, template_id)
        if row is None or row.gallery_id != gallery.id:
            raise NotFound(f"gallery image {template_id} does not exist (removed?)")
        audit.record(
            s,
            actor,
            "gallery.image.read",
            target=row.record_id,
            details={"template": template_id, "why": why},
        )
        blob = row.image_blob
    try:
        return store.blobs.get(blob_folder(gallery.id), blob, key)
    except CryptoError as exc:
        raise GalleryError(f"gallery image {template_id} cannot be decrypted: {exc}") from exc
