"""Encryption of biometric data: AES-256-GCM, one data key per deployment and purpose, wrapped by a master key.

The master key is a file (base64 of 32 random bytes, mode 0600) created on first use. Data keys are
random, wrapped with the master key (the deployment id and purpose as associated data, so a wrapped key
cannot be moved to another deployment) and stored in ``deployment_keys``. Destroying a data key deletes
its wrapped copy; every ciphertext under it, including copies in backups, is then unreadable.
"""

from __future__ import annotations

import base64
import os
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


def encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """``version || nonce || ciphertext+tag``; ``aad`` binds the ciphertext to what it belongs to."""
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_VERSION:
        raise CryptoError("not an openlfr ciphertext (bad header or too short)")
    nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise CryptoError("decryption failed: wrong key, or the data was altered") from exc


class MasterKey:
    """The master key that wraps every data key. Created (0600) on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: bytes | None = None

    def _load(self) -> bytes:
        if self._key is not None:
            return self._key
        if not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            key = AESGCM.generate_key(bit_length=256)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first: read theirs
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(base64.b64encode(key) + b"\n")
        try:
            raw = base64.b64decode(self.path.read_bytes().strip(), validate=True)
        except (ValueError, OSError) as exc:
            raise CryptoError(f"master key file {self.path} cannot be read as base64: {exc}") from exc
        if len(raw) != KEY_BYTES:
            raise CryptoError(f"master key file {self.path} holds {len(raw)} bytes, expected {KEY_BYTES}")
        self._key = raw
        return raw

    def wrap(self, data_key: bytes, label: str) -> bytes:
        return encrypt(self._load(), data_key, label.encode())

    def unwrap(self, wrapped: bytes, label: str) -> bytes:
        try:
            return decrypt(self._load(), wrapped, label.encode())
        except CryptoError as exc:
            raise CryptoError(
                f"data key {label} cannot be unwrapped with the master key {self.path}"
            ) from exc


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)
