"""Storage: SQLAlchemy models and sessions, Alembic migrations, encrypted blobs and data keys.

Open it with :func:`open_store`; services in ``openlfr.governance`` take the returned :class:`Store`.
"""

from openlfr.store.base import Base, UTCDateTime, new_id, utcnow
from openlfr.store.blobs import BlobNotFound, BlobStore
from openlfr.store.crypto import CryptoError, KeyDestroyed
from openlfr.store.db import Store, StoreError, make_engine, migrate, open_store

__all__ = [
    "Base",
    "BlobNotFound",
    "BlobStore",
    "CryptoError",
    "KeyDestroyed",
    "Store",
    "StoreError",
    "UTCDateTime",
    "make_engine",
    "migrate",
    "new_id",
    "open_store",
    "utcnow",
]
