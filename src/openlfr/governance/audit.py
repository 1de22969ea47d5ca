"""The audit log (rule 6): append-only and hash-chained, so an edit, insertion or deletion is detectable.

Each row's ``hash`` is SHA-256 over the canonical JSON of its fields (time, actor, role, action,
deployment, target, details) followed by the previous row's hash; the first row follows
:data:`GENESIS`. :func:`verify` walks the chain and names the first row that breaks it.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the store's
``BEGIN IMMEDIATE`` transactions; and ``seq`` is assigned as last + 1 and is the primary key, so two
writers that somehow raced would collide on the key rather than fork the chain.

What a hash chain cannot show on its own: someone with write access to the database who rewrites every
row after the one they changed, or who deletes rows at the very end. Export the latest hash
(``openlfr audit show --last 1``) to somewhere they cannot write to anchor it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from openlfr.governance.errors import GovernanceError
from openlfr.store import Store, utcnow
from openlfr.store.models import AuditEntry

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x61756469746C6F67


@dataclass(frozen=True)
class Actor:
    """Who did something: a person (name and role) or the system itself."""

    name: str
    role: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


SYSTEM = Actor("system", "system")

ActorLike = Actor | str


def as_actor(actor: ActorLike) -> Actor:
    if isinstance(actor, Actor):
        return actor
    name = str(actor).strip()
    if not name:
        raise GovernanceError("an action needs an actor (who did it)")
    if name == "system":
        return SYSTEM
    # "alice (operator)" is a name with its role, the way Actor prints it.
    if name.endswith(")") and " (" in name:
        person, role = name[:-1].rsplit(" (", 1)
        if person.strip() and role.strip():
            return Actor(person.strip(), role.strip())
    return Actor(name)


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
) -> str:
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
    return hashlib.sha256((body + prev_hash).encode()).hexdigest()


def entry_hash(entry: AuditEntry) -> str:
    return row_hash(
        at=entry.at,
        actor=entry.actor,
        role=entry.role,
        action=entry.action,
        deployment_id=entry.deployment_id,
        target=entry.target,
        details=entry.details,
        prev_hash=entry.prev_hash,
    )


def record(
    session: Session,
    actor: ActorLike,
    action: str,
    *,
    deployment_id: str | None = None,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEntry:
    """Append one row in ``session``'s transaction (it is part of what it records: both or neither)."""
    who = as_actor(actor)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    when = at or utcnow()
    body = canonical_json(details or {})
    entry = AuditEntry(
        seq=seq,
        at=when,
        actor=who.name,
        role=who.role,
        action=action,
        deployment_id=deployment_id,
        target=target,
        details=body,
        prev_hash=prev,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush([entry])
    return entry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    bad_seq: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS

    def __str__(self) -> str:
        if self.ok:
            return f"audit log intact: {self.rows} rows, last hash {self.last_hash}"
        return f"audit log BROKEN at row {self.bad_seq}: {self.problem}"


def verify(
    store: Store, actor: ActorLike | None = None, clock: Callable[[], datetime] = utcnow
) -> VerifyResult:
    """Walk the whole chain; name the first row that was edited, inserted or deleted.

    With ``actor`` given, the check itself is then audited (after verifying, so it does not verify itself).
    """
    result = _verify(store)
    if actor is not None:
        with store.session() as s:
            record(
                s,
                actor,
                "audit.verify",
                details={
                    "ok": result.ok,
                    "rows": result.rows,
                    "bad_seq": result.bad_seq,
                    "problem": result.problem,
                },
                at=clock(),
            )
    return result


def _verify(store: Store) -> VerifyResult:
    prev_hash = GENESIS
    prev_prev_hash: str | None = None
    prev_seq = 0
    rows = 0
    with store.sessions() as s:
        stream = s.execute(
            select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
        ).scalars()
        for entry in stream:
            rows += 1
            own_ok = entry_hash(entry) == entry.hash
            if not own_ok:
                return VerifyResult(
                    False,
                    rows,
                    entry.seq,
                    f"row {entry.seq} ({entry.action} by {entry.actor} at {_format_time(entry.at)}) was edited: "
                    "its content does not match its hash",
                )
            if entry.prev_hash != prev_hash:
                if prev_prev_hash is not None and entry.prev_hash == prev_prev_hash:
                    return VerifyResult(
                        False,
                        rows,
                        prev_seq,
                        f"row {prev_seq} was inserted: row {entry.seq} follows the row before it",
                    )
                if entry.seq != prev_seq + 1:
                    missing = (
                        f"row {prev_seq + 1}"
                        if entry.seq == prev_seq + 2
                        else f"rows {prev_seq + 1}-{entry.seq - 1}"
                    )
                    return VerifyResult(False, rows, entry.seq, f"{missing} deleted before row {entry.seq}")
                return VerifyResult(
                    False,
                    rows,
                    entry.seq,
                    f"row {entry.seq} does not follow row {prev_seq}: a row before it was deleted, replaced or "
                    "inserted",
                )
            prev_prev_hash, prev_hash, prev_seq = prev_hash, entry.hash, entry.seq
    return VerifyResult(True, rows, last_hash=prev_hash)


def entries(
    store: Store, *, deployment_id: str | None = None, action: str | None = None, last: int | None = None
) -> list[AuditEntry]:
    """Audit rows, oldest first (the newest ``last`` if given)."""
    with store.sessions() as s:
        q = select(AuditEntry)
        if deployment_id:
            q = q.where(AuditEntry.deployment_id == deployment_id)
        if action:
            q = q.where(AuditEntry.action.like(action.replace("*", "%")))
        if last:
            rows = list(s.scalars(q.order_by(AuditEntry.seq.desc()).limit(last)))
            return rows[::-1]
        return list(s.scalars(q.order_by(AuditEntry.seq)))


def entry_as_dict(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": _format_time(e.at),
        "actor": e.actor,
        "role": e.role,
        "action": e.action,
        "deployment_id": e.deployment_id,
        "target": e.target,
        "details": json.loads(e.details),
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }
