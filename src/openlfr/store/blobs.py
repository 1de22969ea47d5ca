"""Encrypted blob files: images and crops, ciphertext only, one folder per deployment.

A blob is ``<blob_dir>/<deployment_id>/<blob_id>.bin`` holding AES-GCM ciphertext (``openlfr.store.crypto``)
with ``deployment_id/blob_id`` as associated data, so a blob cannot be swapped for another one.
Files are written to a temporary name and renamed, so a crash never leaves a half-written blob.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

from openlfr.errors import OpenLFRError
from openlfr.store.base import new_id
from openlfr.store.crypto import decrypt, encrypt

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class BlobNotFound(OpenLFRError, LookupError):
    """The blob file is gone (purged, or its deployment closed)."""


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, deployment_id: str, blob_id: str) -> Path:
        if not _SAFE.match(deployment_id) or not _SAFE.match(blob_id):
            raise ValueError(f"bad blob reference {deployment_id!r}/{blob_id!r}")
        return self.root / deployment_id / f"{blob_id}.bin"

    def put(self, deployment_id: str, key: bytes, data: bytes) -> str:
        blob_id = new_id()
        path = self.path(deployment_id, blob_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(encrypt(key, data, f"{deployment_id}/{blob_id}".encode()))
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        return blob_id

    def get(self, deployment_id: str, blob_id: str, key: bytes) -> bytes:
        path = self.path(deployment_id, blob_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise BlobNotFound(f"blob {deployment_id}/{blob_id} does not exist") from exc
        return decrypt(key, data, f"{deployment_id}/{blob_id}".encode())

    def exists(self, deployment_id: str, blob_id: str) -> bool:
        return self.path(deployment_id, blob_id).is_file()

    def delete(self, deployment_id: str, blob_id: str | None) -> bool:
        """Delete one blob; ``True`` if it existed."""
        if not blob_id:
            return False
        path = self.path(deployment_id, blob_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def delete_many(self, deployment_id: str, blob_ids: list[str]) -> int:
        return sum(self.delete(deployment_id, b) for b in blob_ids)

    def delete_deployment(self, deployment_id: str) -> None:
        """Remove a deployment's folder (only used once none of its blobs is still needed)."""
        path = self.root / deployment_id
        if _SAFE.match(deployment_id) and path.is_dir():
            shutil.rmtree(path)

    def count(self, deployment_id: str) -> int:
        folder = self.root / deployment_id
        with contextlib.suppress(FileNotFoundError):
            return sum(1 for p in folder.iterdir() if p.suffix == ".bin")
        return 0
