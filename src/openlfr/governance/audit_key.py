"""The audit key: a file outside the database (``audit.key``, mode 0600) from which the chain's HMAC key
and the Ed25519 key that signs checkpoints are derived; read once and cached.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openlfr.config import Settings


class AuditKeyError(RuntimeError):
    """The audit key file cannot be read (the message says which file and why)."""


@dataclass(frozen=True)
class AuditKey:
    """The audit key file: the chain's HMAC key, the checkpoint signing key, and where the keyed chain
    begins (rows ``1..keyed_from`` were written before the key existed and keep plain SHA-256 hashes)."""

    path: Path
    mac_key: bytes = field(repr=False)
    signing_key: Ed25519PrivateKey = field(repr=False)
    keyed_from: int
    format: int = 1
    """2: a checkpoint of row ``keyed_from`` was written when the key was made (so a checkpoint log that no
    longer starts there lost its first lines)."""

    @property
    def public_key_hex(self) -> str:
        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw.hex()


_KEY_CACHE: dict[Path, AuditKey] = {}
_KEY_LOCK = threading.Lock()


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"openlfr audit " + purpose).derive(
        secret
    )


def _parse_key_file(path: Path) -> AuditKey:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        secret = base64.b64decode(doc["secret"], validate=True)
        keyed_from = int(doc["keyed_from"])
        fmt = int(doc.get("format", 1))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"audit key file {path} cannot be read: {exc}") from exc
    if len(secret) != 32 or keyed_from < 0:
        raise AuditKeyError(f"audit key file {path} is malformed (32-byte secret, keyed_from >= 0 expected)")
    return AuditKey(
        path=path,
        mac_key=_derive(secret, b"chain"),
        signing_key=Ed25519PrivateKey.from_private_bytes(_derive(secret, b"checkpoint")),
        keyed_from=keyed_from,
        format=fmt,
    )


def load_audit_key(settings: Settings) -> AuditKey | None:
    """The audit key, or None if it was never created (a database from before keyed chains, or no rows)."""
    path = settings.audit_key_file
    with _KEY_LOCK:
        cached = _KEY_CACHE.get(path)
        if cached is not None and path.exists():
            return cached
        if not path.exists():
            _KEY_CACHE.pop(path, None)
            return None
        key = _parse_key_file(path)
        _KEY_CACHE[path] = key
        return key
