"""The gallery row and its key: custody records imported from a CSV, encrypted with the gallery's own key.

Each image becomes one ``GalleryTemplate`` row (integer id = its id in the gallery index): the image as an
encrypted blob under ``gallery-<id>``, the template as AES-GCM ciphertext in the row. The gallery's data
key is wrapped by the master key; destroying it makes every image and template unreadable.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.store import Store, utcnow
from openlfr.store.blobs import gallery_blob_folder
from openlfr.store.crypto import DataKey, KeyDestroyed, KeyRing, decrypt, new_data_key
from openlfr.store.db import gallery_key_label, gallery_template_aad
from openlfr.store.models import Gallery, GalleryTemplate
from openlfr.vision.engine import FaceEngine
from openlfr.vision.face import FloatArray


class GalleryError(GovernanceError):
    """Bad gallery input or request; the message says which and why."""


class GalleryIndexError(GalleryError):
    """The gallery's saved index cannot be read (corrupt, truncated, or not this gallery's). The templates
    are intact in the database: ``openlfr gallery reindex`` rebuilds the index from them."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


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
