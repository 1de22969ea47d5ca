"""The audit log (rule 6): append-only, chained with a key kept outside the database, anchored by signed
checkpoints kept outside it.

Each row's ``hash`` is HMAC-SHA256, under the audit key, over the canonical JSON of its fields (time, actor,
role, action, deployment, target, details) followed by the previous row's hash; the first row follows
:data:`GENESIS`. Without the key nobody can compute a valid hash, so an edited, inserted or deleted row,
or a rewrite of every hash from some row on, shows.

The audit key is a file next to the master key (``audit.key``, mode 0600, created on first use); it also
derives an Ed25519 key that signs **checkpoints**: after every transaction that appended rows, one line
``{rows, head, at, keyed_from, signature}`` is appended to ``audit-checkpoints/checkpoints.jsonl`` (outside
the database, append-only), and each deployment record publishes the latest one. A checkpoint is what
shows a cut-off tail or a log emptied of every row: the database then holds fewer rows than a signed
checkpoint saw, or a different hash at the checkpoint's row. ``verify`` also takes an anchor from outside
(``expect_head``, ``min_rows``: e.g. from a published record).

Databases created before the key existed keep their first rows as they were (plain SHA-256): the key file
records how many there were (``keyed_from``), the first checkpoint anchors them, and every later row is
keyed.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on SQLite by the store's
``BEGIN IMMEDIATE`` transactions; and ``seq`` is assigned as last + 1 and is the primary key, so two
writers that somehow raced would collide on the key rather than fork the chain.

**The witness** (issue 25). Every checkpoint is also appended to ``store.audit_witness_file``, a file
outside the data folder on a location the service cannot rewrite (another mount or host, or ``chattr +a``),
and optionally sent to a remote syslog collector. ``verify`` reads the file witness and fails when the log
or the checkpoint log is behind it (rows or checkpoint lines cut) or has forked from it (a row at a
witnessed checkpoint differs). Once keyed, a log is never "not yet keyed": a key file gone while
checkpoints, ``public.key`` or witnessed checkpoints exist is a failure; ``public.key`` must be the key's
own public key and every checkpoint must name it; and the checkpoint log must still start with the
checkpoint written when the key was made (so deleting it and letting the next write start a new one shows).

What this cannot show: without a witness, someone holding the data folder (database, key file, checkpoint
log) can rewrite everything consistently, and cut rows with the checkpoint lines that saw them; only a
checkpoint copied elsewhere before (a published record, ``openlfr audit checkpoint``) then tells. With the
witness, someone who can also rewrite the witness's location can do the same. Rows appended after the
latest checkpoint (a crash between commit and checkpoint) are chained but not anchored; ``verify`` says how
many.

This module appends rows (:func:`record`), reads them back and runs the audited check (:func:`verify`); the parts live beside it:
:mod:`~openlfr.governance.audit_hashes` (how a row's hash is made), :mod:`~openlfr.governance.audit_key`,
:mod:`~openlfr.governance.audit_checkpoints`, :mod:`~openlfr.governance.audit_signing`,
:mod:`~openlfr.governance.audit_witness` and :mod:`~openlfr.governance.audit_verify`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from openlfr.config import Settings
from openlfr.governance.audit_hashes import GENESIS, _format_time, canonical_json, entry_hash
from openlfr.governance.audit_key import load_audit_key
from openlfr.governance.audit_signing import _create_audit_key, write_checkpoint

# Re-exported: ``openlfr audit checkpoint`` (cli/governance.py) calls ``audit.checkpoint_now``.
from openlfr.governance.audit_signing import checkpoint_now as checkpoint_now
from openlfr.governance.audit_verify import VerifyResult, _verify
from openlfr.governance.errors import GovernanceError
from openlfr.store import Store, utcnow
from openlfr.store.models import AuditEntry

log = logging.getLogger(__name__)

_PG_AUDIT_LOCK = 0x61756469746C6F67
SETTINGS_INFO_KEY = "openlfr.settings"
"""Where a store's sessions carry its settings (``Session.info``), so :func:`record` finds the audit key."""
_PENDING = "openlfr.audit_pending"
_HOOKED = "openlfr.audit_hooked"


@dataclass(frozen=True)
class Actor:
    """Who did something: a person (name and role) or the system itself."""

    name: str
    role: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.role})" if self.role else self.name


SYSTEM = Actor("system", "system")
SERVICE_ROLE = "service"
"""The role of a named service identity (e.g. the scheduled purge's ``retention.service_identity``)."""
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


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is None:
        return
    settings, key, rows, head = pending
    try:
        write_checkpoint(settings, key, rows, head)
    except OSError as exc:  # the row is committed: say loudly that it is not anchored
        log.error("audit checkpoint for row %s could not be written: %s", rows, exc)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _settings_of(session: Session) -> Settings:
    settings = session.info.get(SETTINGS_INFO_KEY)
    if not isinstance(settings, Settings):
        raise RuntimeError(
            "audit rows are written in a session from Store.session() (it knows the audit key)"
        )
    return settings


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
    """Append one row in ``session``'s transaction (it is part of what it records: both or neither).

    Once the transaction commits, a signed checkpoint of the new head is appended outside the database."""
    who = as_actor(actor)
    settings = _settings_of(session)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    key = load_audit_key(settings)
    if key is None:
        # First keyed row: the rows already there (a database from before) stay as they were, and a
        # checkpoint of them marks where the keyed chain begins.
        key = _create_audit_key(settings, legacy_rows=seq - 1, legacy_head=prev)
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
    entry.hash = entry_hash(entry, key.mac_key)
    session.add(entry)
    session.flush([entry])
    session.info[_PENDING] = (settings, key, seq, entry.hash)
    if not session.info.get(_HOOKED):
        session.info[_HOOKED] = True
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_rollback", _after_rollback)
    return entry


def verify(
    store: Store,
    actor: ActorLike | None = None,
    clock: Callable[[], datetime] = utcnow,
    *,
    expect_head: str | None = None,
    min_rows: int | None = None,
) -> VerifyResult:
    """Walk the whole chain and compare it with the signed checkpoints; name the first row that was edited,
    inserted, deleted or rewritten, and a tail cut off or a log emptied.

    ``expect_head`` and ``min_rows`` are an anchor from outside (a published record's checkpoint): the log
    must have at least ``min_rows`` rows, and ``expect_head`` must be the hash of row ``min_rows`` (of some
    row, without ``min_rows``). With ``actor`` given, the check itself is then audited (after verifying,
    so it does not verify itself).
    """
    result = _verify(store, expect_head=expect_head, min_rows=min_rows)
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
