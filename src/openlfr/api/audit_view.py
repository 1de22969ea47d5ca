"""The audit log as each role may read it (issue 25 item 5).

The log records everything (rule 6), alert details included: the subject, their watchlist category, the
camera and the score. A role that may not see alerts (``roles.VIEW_ALERTS``; e.g. the admin, who may read
the log to run the system) must not learn them through the log either, so its rows come back with those
values replaced by :data:`REDACTED`; a role that may not see watchlist entries does not get their subject
ids as the target of ``watchlist.*`` rows either. The rows themselves are never changed: the chain, the
hashes and ``audit verify`` are as before, and a role that may see alerts reads every row whole.

Used by ``GET /api/audit``, ``openlfr audit show`` and the audit page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openlfr.api import roles
from openlfr.governance.audit import entry_as_dict
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry

REDACTED = "[redacted: this role may not see alerts]"
ALERT_DETAIL_KEYS = frozenset(
    {
        "subject_id",
        "subject_ids",
        "subject",
        "category",
        "camera_id",
        "camera",
        "score",
        "scores",
        "track_id",
        "candidates",
        "name",
        "observed_at",
    }
)
"""Keys whose values, wherever they sit in a row's details, say who was matched, where, when or how well."""


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: REDACTED if k in ALERT_DETAIL_KEYS else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def may_see_alerts(role: Role) -> bool:
    return role in roles.VIEW_ALERTS


@dataclass(frozen=True)
class AuditRow:
    """One audit row as this role may read it (``details`` as JSON text, like the stored row)."""

    seq: int
    at: datetime
    actor: str
    role: str
    action: str
    deployment_id: str | None
    target: str | None
    details: str
    prev_hash: str
    hash: str
    redacted: bool


def visible_row(entry: AuditEntry, role: Role) -> AuditRow:
    """``entry`` with alert details redacted unless ``role`` may see alerts."""
    details, target, redacted = entry.details, entry.target, False
    if not may_see_alerts(role):
        parsed = json.loads(entry.details)
        cleaned = _redact(parsed)
        if cleaned != parsed:
            details, redacted = json.dumps(cleaned, sort_keys=True, ensure_ascii=False), True
        if (
            entry.action.startswith("watchlist.")
            and role not in roles.VIEW_WATCHLIST_ENTRIES
            and entry.target
        ):
            target, redacted = REDACTED, True
    return AuditRow(
        entry.seq,
        entry.at,
        entry.actor,
        entry.role,
        entry.action,
        entry.deployment_id,
        target,
        details,
        entry.prev_hash,
        entry.hash,
        redacted,
    )


def visible_rows(entries: list[AuditEntry], role: Role) -> list[AuditRow]:
    return [visible_row(e, role) for e in entries]


def row_as_dict(entry: AuditEntry, role: Role) -> dict[str, Any]:
    """The JSON form of ``GET /api/audit`` and ``openlfr audit show --json`` for this role."""
    row = visible_row(entry, role)
    out = entry_as_dict(entry)
    out.update(target=row.target, details=json.loads(row.details), redacted=row.redacted)
    return out
