"""How the audit chain's hashes are made: the canonical JSON of a row's fields, HMAC-SHA256 under the
audit key (plain SHA-256 for rows from before the key) over it and the previous row's hash, the first
row following :data:`GENESIS`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from openlfr.store.models import AuditEntry

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _format_time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def row_hash(
    *,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    deployment_id: str | None,
    target: str | None,
    details: str,
    prev_hash: str,
    key: bytes | None = None,
) -> str:
    """HMAC-SHA256 under ``key``; plain SHA-256 without one (rows from before the chain was keyed)."""
    body = canonical_json(
        {
            "at": _format_time(at),
            "actor": actor,
            "role": role,
            "action": action,
            "deployment_id": deployment_id,
            "target": target,
            "details": details,
        }
    )
    message = (body + prev_hash).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def entry_hash(entry: AuditEntry, key: bytes | None = None) -> str:
    return row_hash(
        at=entry.at,
        actor=entry.actor,
        role=entry.role,
        action=entry.action,
        deployment_id=entry.deployment_id,
        target=entry.target,
        details=entry.details,
        prev_hash=entry.prev_hash,
        key=key,
    )
