"""Tamper with a real audit log the way someone holding the database would, and print what ``verify`` says.

Each case starts from a fresh store (SQLite, or PostgreSQL with ``--database-url``) with rows appended by
:func:`openlfr.governance.audit.record`; the attacker then edits, inserts, deletes or rewrites rows and
recomputes every later hash with the published algorithm (plain SHA-256: they do not hold the audit key),
except in the last case, where they also stole the key file. Prints a Markdown table.

    .venv/bin/python benchmarks/audit_tamper.py [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import delete, select, update

import _common  # noqa: F401  (puts src/ on the path)
from openlfr.config import Settings
from openlfr.governance.audit import GENESIS, canonical_json, load_audit_key, record, verify
from openlfr.store import Store, open_store
from openlfr.store.models import AuditEntry


def forge(row: AuditEntry, prev: str, key: bytes | None) -> str:
    body = canonical_json(
        {
            "at": row.at.isoformat(timespec="microseconds"),
            "actor": row.actor,
            "role": row.role,
            "action": row.action,
            "deployment_id": row.deployment_id,
            "target": row.target,
            "details": row.details,
        }
    )
    msg = (body + prev).encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest() if key else hashlib.sha256(msg).hexdigest()


def rehash_from(store: Store, first: int, key: bytes | None = None) -> None:
    with store.session() as s:
        prev = GENESIS
        for row in s.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            if row.seq >= first:
                row.prev_hash, row.hash = prev, forge(row, prev, key)
            prev = row.hash


def forged_row(seq: int, after: AuditEntry) -> AuditEntry:
    return AuditEntry(
        seq=seq,
        at=after.at,
        actor="mallory",
        role="operator",
        action="alert.review",
        deployment_id="d1",
        target="a1",
        details='{"decision":"false_alert"}',
        prev_hash=after.hash,
        hash="f" * 64,
    )


def edit(st: Store) -> None:
    with st.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    rehash_from(st, 3)


def insert(st: Store) -> None:
    with st.session() as s:
        for q in range(10, 3, -1):
            s.execute(update(AuditEntry).where(AuditEntry.seq == q).values(seq=q + 1))
        s.add(forged_row(4, s.scalars(select(AuditEntry).where(AuditEntry.seq == 3)).one()))
    rehash_from(st, 4)


def middle_delete(st: Store) -> None:
    with st.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
        for q in range(5, 11):
            s.execute(update(AuditEntry).where(AuditEntry.seq == q).values(seq=q - 1))
    rehash_from(st, 4)


def tail_delete(st: Store) -> None:
    with st.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 5))


def delete_all(st: Store) -> None:
    with st.session() as s:
        s.execute(delete(AuditEntry))


def rewrite_and_append(st: Store) -> None:
    with st.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(details='{"i":99}'))
        s.add(forged_row(11, s.scalars(select(AuditEntry).where(AuditEntry.seq == 10)).one()))
    rehash_from(st, 3)


def rewrite_with_stolen_key(st: Store) -> None:
    key = load_audit_key(st.settings)
    assert key is not None
    with st.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    rehash_from(st, 2, key.mac_key)


CASES: list[tuple[str, Callable[[Store], None]]] = [
    ("edit row 3, rehash every later row", edit),
    ("insert a forged row at 4, renumber, rehash", insert),
    ("delete row 4, renumber, rehash", middle_delete),
    ("delete the last 5 rows", tail_delete),
    ("delete every row", delete_all),
    ("rewrite every hash from row 3 on and append a forged alert.review", rewrite_and_append),
    ("rewrite from row 2 holding the stolen audit key (not the checkpoint log)", rewrite_with_stolen_key),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (an empty database); default SQLite")
    args = ap.parse_args()
    print("| tamper case (10 rows) | `openlfr audit verify` |\n| --- | --- |")
    for name, tamper in CASES:
        data = Path(tempfile.mkdtemp(prefix="openlfr-tamper-"))
        store_cfg = {"database_url": args.database_url} if args.database_url else {}
        st = open_store(Settings(data_dir=data, store=store_cfg))
        if args.database_url:
            with st.session() as s:
                s.execute(delete(AuditEntry))
        for i in range(10):
            with st.session() as s:
                record(
                    s, "alice (operator)", "test.action", deployment_id="d1", target=f"t{i}", details={"i": i}
                )
        tamper(st)
        result = verify(st)
        print(f"| {name} | {'detected' if not result.ok else 'NOT DETECTED'}: {result.problem or result} |")
        st.close()


if __name__ == "__main__":
    main()
