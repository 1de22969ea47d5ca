"""Encryption of biometric data: AES-256-GCM, one data key per deployment and purpose, wrapped by a master key.

The master key is a file (base64 of 32 random bytes, mode 0600) created on first use. Data keys are
random, wrapped with the master key (the deployment id and purpose as associated data, so a wrapped key
cannot be moved to another deployment) and stored in ``deployment_keys``. Destroying a data key deletes
its wrapped copy; every ciphertext under it, including copies in backups, is then unreadable.
"""

from __future__ import annotations

import base64
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openlfr.errors import OpenLFRError

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_VERSION = b"\x01"


class CryptoError(OpenLFRError, RuntimeError):
    """Data cannot be decrypted: wrong or destroyed key, or the ciphertext was altered."""


class KeyDestroyed(CryptoError):
    """The data key was destroyed (its deployment closed, or its alerts purged)."""


FORMAT_GENERATION = b"\x02"
"""``version || generation (4 bytes, big-endian) || nonce || ciphertext+tag``: under a key started by a
master key rotation (generation 1, 2, ...). Version 1 ciphertext is generation 0."""


@dataclass(frozen=True)
class KeyRing:
    """One data key's generations (``{generation: key}``): new data is encrypted under ``current``, and each
    ciphertext names the generation it needs. Rotation (``openlfr keys rotate``) starts a new generation
    wrapped only under the new master key, so an old master key and a copy of the database taken before the
    rotation open nothing written after it."""

    keys: dict[int, bytes] = field(repr=False)
    current: int

    @classmethod
    def single(cls, key: bytes) -> KeyRing:
        return cls({0: key}, 0)

    @property
    def newest(self) -> bytes:
        """The current generation's bare key (for a peer that encrypts a message in transit, e.g. the bus)."""
        return self.keys[self.current]

    @property
    def first(self) -> bytes:
        """The oldest generation held: what a keyed digest that must stay stable across rotations uses."""
        return self.keys[min(self.keys)]


DataKey = bytes | KeyRing
"""A bare key (generation 0 only) or a key ring."""


def generation_of(blob: bytes) -> int:
    """The key generation a ciphertext was made under."""
    if blob[:1] == FORMAT_GENERATION and len(blob) >= 5:
        return int.from_bytes(blob[1:5], "big")
    if blob[:1] == FORMAT_VERSION:
        return 0
    raise CryptoError("not an openlfr ciphertext (bad header)")


def encrypt(key: DataKey, plaintext: bytes, aad: bytes) -> bytes:
    """``version || [generation ||] nonce || ciphertext+tag``; ``aad`` binds the ciphertext to what it belongs
    to. With a key ring, under its current generation."""
    ring = key if isinstance(key, KeyRing) else KeyRing.single(key)
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(ring.keys[ring.current]).encrypt(nonce, plaintext, aad)
    if ring.current == 0:
        return FORMAT_VERSION + nonce + body
    return FORMAT_GENERATION + ring.current.to_bytes(4, "big") + nonce + body


def decrypt(key: DataKey, blob: bytes, aad: bytes) -> bytes:
    ring = key if isinstance(key, KeyRing) else KeyRing.single(key)
    header = 5 if blob[:1] == FORMAT_GENERATION else 1
    if len(blob) < header + NONCE_BYTES + 16 or blob[:1] not in (FORMAT_VERSION, FORMAT_GENERATION):
        raise CryptoError("not an openlfr ciphertext (bad header or too short)")
    generation = generation_of(blob)
    data_key = ring.keys.get(generation)
    if data_key is None:
        raise CryptoError(
            f"this ciphertext needs data key generation {generation}, which this key ring does not hold "
            "(started by a later master key rotation than the database copy, or destroyed)"
        )
    nonce, body = blob[header : header + NONCE_BYTES], blob[header + NONCE_BYTES :]
    try:
        return AESGCM(data_key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise CryptoError("decryption failed: wrong key, or the data was altered") from exc


def _write_new_key(path: Path) -> bool:
    """Create ``path`` (0600, exclusively) holding a fresh random key; False if it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = AESGCM.generate_key(bit_length=256)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(key) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return True


class MasterKey:
    """The master key that wraps every data key. Created (0600) on first use.

    Rotation (:meth:`openlfr.store.Store.rotate_master_key`) writes the next key to :attr:`pending_path`,
    re-wraps every data key under it in one transaction, then renames it over :attr:`path`. A process
    holding the old key reloads the file when an unwrap fails and the file has changed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None = None
        self._stamp: tuple[int, int] | None = None

    @property
    def pending_path(self) -> Path:
        return self.path.with_name(self.path.name + ".new")

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _load(self) -> bytes:
        if self._key is not None:
            return self._key
        if not self.path.exists():
            _write_new_key(self.path)  # False: another process created it first; read theirs
        try:
            raw = base64.b64decode(self.path.read_bytes().strip(), validate=True)
        except (ValueError, OSError) as exc:
            raise CryptoError(f"master key file {self.path} cannot be read as base64: {exc}") from exc
        if len(raw) != KEY_BYTES:
            raise CryptoError(f"master key file {self.path} holds {len(raw)} bytes, expected {KEY_BYTES}")
        self._key = raw
        self._stamp = self._file_stamp()
        return raw

    def forget(self) -> None:
        """Drop the cached key (the next use reads the file again)."""
        self._key = None
        self._stamp = None

    def wrap(self, data_key: bytes, label: str) -> bytes:
        """Wrap under the current master key: refused while a rotation is under way (the key it would
        use is about to be replaced), and re-read if another process rotated it since it was loaded."""
        deadline = time.monotonic() + 10.0
        while self.pending_path.exists():  # a rotation is finishing (its rename follows its commit)
            if time.monotonic() > deadline:
                raise CryptoError(
                    f"a master key rotation is under way ({self.pending_path} exists): try again in a "
                    "moment (if it was interrupted, any openlfr command finishes or undoes it)"
                )
            time.sleep(0.05)
        if self._stamp is not None and self._file_stamp() != self._stamp:
            self.forget()
        return encrypt(self._load(), data_key, label.encode())

    def unwrap(self, wrapped: bytes, label: str) -> bytes:
        try:
            return decrypt(self._load(), wrapped, label.encode())
        except CryptoError as exc:
            if self._stamp is not None and self._file_stamp() != self._stamp:
                self.forget()  # rotated by another process since we read it
                with contextlib.suppress(CryptoError):
                    return decrypt(self._load(), wrapped, label.encode())
            raise CryptoError(
                f"data key {label} cannot be unwrapped with the master key {self.path}"
            ) from exc

    def start_rotation(self) -> MasterKey:
        """Write the next master key to :attr:`pending_path` and return it."""
        if not _write_new_key(self.pending_path):
            raise CryptoError(
                f"{self.pending_path} exists: a key rotation is under way or was interrupted "
                "(opening the store finishes or undoes an interrupted one)"
            )
        return MasterKey(self.pending_path)

    def finish_rotation(self) -> None:
        """Replace the master key file by the pending one (atomic rename; the old key's file is gone)."""
        os.replace(self.pending_path, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self.forget()

    def abandon_rotation(self) -> None:
        self.pending_path.unlink(missing_ok=True)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)
