"""Using the gallery's records: search, stats, reading one custody image, and removing a record.

Every search maps hits back to rows that still exist, so a removed record is never returned, even by a
process whose index in memory predates the removal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from sqlalchemy import delete, func, select

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import NotFound
from openlfr.retro.gallery_keys import (
    GalleryError,
    GalleryIndexError,
    blob_folder,
    gallery_key,
    get_gallery,
)
from openlfr.retro.saved_index import (
    _cache_key,
    _indexes,
    load_index,
    save_index,
)
from openlfr.store import Store
from openlfr.store.crypto import CryptoError, DataKey
from openlfr.store.models import Gallery, GalleryTemplate
from openlfr.vision.face import FloatArray


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
