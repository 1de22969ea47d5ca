"""Encrypted blob files: images and crops, ciphertext only, one folder per deployment.

A blob is ``<blob_dir>/<deployment_id>/<blob_id>.bin`` holding AES-GCM ciphertext (``openlfr.store.crypto``)
with ``deployment_id/blob_id`` as associated data, so a blob cannot be swapped for another one. Files are
0600 and folders 0700 whatever the umask.

**Staging.** A blob written inside a store transaction (``Store.session()``) goes first to
``<blob_dir>/.staging/<host>-<pid>/<deployment_id>/<blob_id>.bin`` and is moved into place only after the
transaction commits (discarded if it rolls back). So a file in its final place always has its row, and
a process killed mid-import leaves its files in its own staging folder, where :meth:`BlobStore.sweep`
finds them: a staged blob whose row committed (killed between commit and move) is moved in, any other
is deleted. The sweep also deletes files in place that no row refers to any more.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from openlfr.errors import OpenLFRError
from openlfr.store.base import new_id
from openlfr.store.crypto import DataKey, KeyRing, decrypt, encrypt, generation_of

log = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STAGING = ".staging"
FILE_MODE = 0o600
DIR_MODE = 0o700
# A ".tmp" file in place or a staging folder of another host is left alone for this long: its writer
# may still be running (we cannot ask another host whether a process lives).
_STALE_S = 24 * 3600.0


def gallery_blob_folder(gallery_id: str) -> str:
    """The blob folder of one custody gallery's images (beside the deployments' folders)."""
    return f"gallery-{gallery_id}"


def case_blob_folder(case_id: str) -> str:
    """The blob folder of one RFR case's probe crops."""
    return f"case-{case_id}"


class BlobNotFound(OpenLFRError, LookupError):
    """The blob file is gone (purged, or its deployment closed)."""


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) and make it 0700, whatever the umask."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if (path.stat().st_mode & 0o777) != DIR_MODE:
        os.chmod(path, DIR_MODE)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` created 0600 (not widened by the umask), fsynced."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), FILE_MODE)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


@dataclass
class StagingScope:
    """Blobs written during one store transaction, waiting for its commit."""

    staged: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SweepResult:
    """What one sweep did: counts per kind (blob ids are not kept: the counts go to the audit log)."""

    promoted: int = 0
    """Staged blobs of a dead process whose row had committed: moved into place."""
    staged_removed: int = 0
    """Staged blobs of a dead process that no row refers to (an interrupted import): deleted."""
    unreferenced_removed: int = 0
    """Blobs in place that no row refers to: deleted."""

    @property
    def total(self) -> int:
        return self.promoted + self.staged_removed + self.unreferenced_removed

    def as_dict(self) -> dict[str, int]:
        return {
            "promoted": self.promoted,
            "staged_removed": self.staged_removed,
            "unreferenced_removed": self.unreferenced_removed,
        }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._scope: ContextVar[StagingScope | None] = ContextVar(f"blob-staging-{id(self)}", default=None)
        self._owner = f"{socket.gethostname()}-{os.getpid()}"

    def path(self, deployment_id: str, blob_id: str) -> Path:
        if not _SAFE.match(deployment_id) or not _SAFE.match(blob_id):
            raise ValueError(f"bad blob reference {deployment_id!r}/{blob_id!r}")
        return self.root / deployment_id / f"{blob_id}.bin"

    @property
    def staging_dir(self) -> Path:
        """This process's staging folder (its name changes with the pid, e.g. after a fork)."""
        self._owner = f"{socket.gethostname()}-{os.getpid()}"
        return self.root / STAGING / self._owner

    def _staged_path(self, deployment_id: str, blob_id: str) -> Path:
        self.path(deployment_id, blob_id)  # validates both ids
        return self.staging_dir / deployment_id / f"{blob_id}.bin"

    # -- staging: used by Store.session() --------------------------------------------------------------

    @contextlib.contextmanager
    def staging(self) -> Iterator[StagingScope]:
        """Within this block, :meth:`put` stages; the caller calls :meth:`promote` once its transaction
        committed. Leaving the block by an exception discards what was staged."""
        scope = StagingScope()
        token = self._scope.set(scope)
        try:
            yield scope
        except BaseException:
            self._discard(scope)
            raise
        finally:
            self._scope.reset(token)

    def promote(self, scope: StagingScope) -> None:
        """Move ``scope``'s staged blobs into place (after their transaction committed)."""
        for deployment_id, blob_id in scope.staged:
            src = self._staged_path(deployment_id, blob_id)
            dst = self.path(deployment_id, blob_id)
            try:
                private_dir(dst.parent)
                src.replace(dst)
            except FileNotFoundError:
                pass  # already deleted by the same transaction's code
            except OSError as exc:
                # The rows are committed: do not report the transaction as failed. The blob stays staged
                # under this process's name, and the next sweep after this process ends moves it in.
                log.error("blob %s/%s committed but not moved into place: %s", deployment_id, blob_id, exc)
        scope.staged.clear()

    def _discard(self, scope: StagingScope) -> None:
        for deployment_id, blob_id in scope.staged:
            with contextlib.suppress(FileNotFoundError):
                self._staged_path(deployment_id, blob_id).unlink()
        scope.staged.clear()

    # -- blobs ---------------------------------------------------------------------------------------

    def put(self, deployment_id: str, key: DataKey, data: bytes) -> str:
        blob_id = new_id()
        scope = self._scope.get()
        path = self._staged_path(deployment_id, blob_id) if scope else self.path(deployment_id, blob_id)
        private_dir(path.parent)
        tmp = path.with_suffix(".tmp")
        write_private(tmp, encrypt(key, data, f"{deployment_id}/{blob_id}".encode()))
        tmp.replace(path)
        if scope is not None:
            scope.staged.append((deployment_id, blob_id))
        return blob_id

    def get(self, deployment_id: str, blob_id: str, key: DataKey) -> bytes:
        path = self.path(deployment_id, blob_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            # Still staged by this process: written earlier in the current, not yet committed, transaction
            # (or committed but not moved in, see promote).
            try:
                data = self._staged_path(deployment_id, blob_id).read_bytes()
            except FileNotFoundError:
                raise BlobNotFound(f"blob {deployment_id}/{blob_id} does not exist") from None
        return decrypt(key, data, f"{deployment_id}/{blob_id}".encode())

    def reencrypt(self, deployment_id: str, blob_id: str, key: KeyRing) -> bool:
        """Re-encrypt one blob in place under ``key``'s newest generation (atomic replace); False if it
        already was, or is gone."""
        path = self.path(deployment_id, blob_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return False
        if generation_of(data) == key.current:
            return False
        aad = f"{deployment_id}/{blob_id}".encode()
        tmp = path.with_suffix(".tmp")
        write_private(tmp, encrypt(key, decrypt(key, data, aad), aad))
        tmp.replace(path)
        return True

    def exists(self, deployment_id: str, blob_id: str) -> bool:
        return self.path(deployment_id, blob_id).is_file()

    def delete(self, deployment_id: str, blob_id: str | None) -> bool:
        """Delete one blob (in place, or staged by the current transaction); ``True`` if it existed."""
        if not blob_id:
            return False
        path = self.path(deployment_id, blob_id)
        try:
            path.unlink()
        except FileNotFoundError:
            scope = self._scope.get()
            if scope is None or (deployment_id, blob_id) not in scope.staged:
                return False
            scope.staged.remove((deployment_id, blob_id))
            with contextlib.suppress(FileNotFoundError):
                self._staged_path(deployment_id, blob_id).unlink()
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

    # -- sweep ---------------------------------------------------------------------------------------

    def _in_place(self) -> Iterable[tuple[str, str, Path]]:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not folder.is_dir() or not _SAFE.match(folder.name):
                continue
            for f in folder.iterdir():
                if f.suffix == ".bin" and _SAFE.match(f.stem):
                    yield folder.name, f.stem, f
                elif f.suffix == ".tmp" and time.time() - f.stat().st_mtime > _STALE_S:
                    f.unlink(missing_ok=True)  # a write that never finished

    def _dead_staging(self) -> Iterable[Path]:
        """Staging folders whose process is gone (this host), or stale ones of another host."""
        base = self.root / STAGING
        if not base.is_dir():
            return
        host = socket.gethostname()
        for folder in base.iterdir():
            owner_host, _, pid = folder.name.rpartition("-")
            if not pid.isdigit():
                continue
            if owner_host == host:
                if int(pid) == os.getpid() or _pid_alive(int(pid)):
                    continue
            elif time.time() - folder.stat().st_mtime < _STALE_S:
                continue
            yield folder

    def sweep(self, referenced: Callable[[], set[tuple[str, str]]]) -> SweepResult:
        """Promote or delete what dead processes left staged, and delete blobs in place that no row
        refers to. ``referenced()`` returns every ``(deployment_id, blob_id)`` the database refers to.

        Files in place are listed *before* ``referenced()`` is read: a blob is moved in only after its row
        committed, so any file listed has its row visible to the later read (no race with a writer)."""
        result = SweepResult()
        in_place = list(self._in_place())
        dead = list(self._dead_staging())
        refs = referenced()
        for folder in dead:
            for dep_dir in folder.iterdir():
                for f in dep_dir.glob("*") if dep_dir.is_dir() else []:
                    if f.suffix == ".bin" and (dep_dir.name, f.stem) in refs:
                        dst = self.path(dep_dir.name, f.stem)
                        private_dir(dst.parent)
                        f.replace(dst)
                        result.promoted += 1
                    else:
                        f.unlink(missing_ok=True)
                        result.staged_removed += f.suffix == ".bin"
            shutil.rmtree(folder, ignore_errors=True)
        for deployment_id, blob_id, f in in_place:
            if (deployment_id, blob_id) not in refs:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
                    result.unreferenced_removed += 1
        return result
