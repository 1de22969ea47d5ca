"""Checkpoints: the signed statement "the log had N rows and its last hash was H", the append-only
checkpoint log outside the database that holds them, and reading it back.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from openlfr.config import Settings
from openlfr.governance.audit_hashes import canonical_json
from openlfr.governance.audit_key import load_audit_key
from openlfr.store import Store

CHECKPOINT_FILE = "checkpoints.jsonl"
PUBLIC_KEY_FILE = "public.key"


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log had ``rows`` rows and its last row's hash was ``head``."""

    rows: int
    head: str
    at: str
    keyed_from: int
    signature: str
    public_key: str

    def payload(self) -> bytes:
        return canonical_json(
            {"rows": self.rows, "head": self.head, "at": self.at, "keyed_from": self.keyed_from}
        ).encode()

    def signature_ok(self, public_key_hex: str | None = None) -> bool:
        """Whether the signature holds under ``public_key_hex`` (default: the key it names)."""
        try:
            pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex or self.public_key))
            pub.verify(bytes.fromhex(self.signature), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "head": self.head,
            "at": self.at,
            "keyed_from": self.keyed_from,
            "signature": self.signature,
            "public_key": self.public_key,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Checkpoint:
        return cls(
            rows=int(d["rows"]),
            head=str(d["head"]),
            at=str(d["at"]),
            keyed_from=int(d["keyed_from"]),
            signature=str(d["signature"]),
            public_key=str(d["public_key"]),
        )


def _checkpoint_dir(settings: Settings) -> Path:
    d = settings.audit_checkpoint_dir
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_checkpoints(settings: Settings) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in the log, and a problem for every line that is not a well-formed checkpoint."""
    path = settings.audit_checkpoint_dir / CHECKPOINT_FILE
    if not path.exists():
        return [], []
    return _read_checkpoint_lines(path)


def _read_checkpoint_lines(path: Path) -> tuple[list[Checkpoint], list[str]]:
    found: list[Checkpoint] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                found.append(Checkpoint.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                problems.append(f"line {n} of {path} is not a checkpoint")
    return found, problems


def latest_checkpoint(store: Store) -> dict[str, Any] | None:
    """The newest (highest row count) signed checkpoint, as published with the deployment records."""
    key = load_audit_key(store.settings)
    found, _ = read_checkpoints(store.settings)
    good = [c for c in found if key is None or c.signature_ok(key.public_key_hex)]
    if not good:
        return None
    return max(good, key=lambda c: (c.rows, c.at)).as_dict()
