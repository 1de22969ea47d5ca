"""The gallery's saved index: loading, saving and rebuilding it.

The index (``openlfr.matching.gallery_index``) is saved encrypted under the gallery's key in
``<data_dir>/galleries/<id>/index.bin`` with a watermark (the highest template id it holds). Opening it adds
rows above the watermark, so an import that was interrupted between a database commit and an index save
loses nothing. ``reindex_gallery`` rebuilds it from the templates in the database.
"""

from __future__ import annotations

import fcntl
import io
import struct
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.matching.gallery_index import ExactGalleryIndex, GalleryIndex, IvfGalleryIndex, suggested_lists
from openlfr.retro.gallery_keys import (
    GalleryError,
    GalleryIndexError,
    decode_template,
    gallery_key,
    get_gallery,
)
from openlfr.store import Store
from openlfr.store.crypto import CryptoError, DataKey, decrypt, encrypt
from openlfr.store.models import Gallery, GalleryTemplate

_WATERMARK = struct.Struct("<q")

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
