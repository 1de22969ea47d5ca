"""Rule 6: the audit log is hash-chained; an edited, inserted or deleted row is found and named."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import delete, select, text, update

from openlfr.governance.audit import GENESIS, entries, entry_hash, record, verify
from openlfr.store import Store
from openlfr.store.models import AuditEntry


def _fill(store: Store, n: int = 6) -> None:
    for i in range(n):
        with store.session() as s:
            record(
                s,
                "alice (operator)",
                "test.action",
                deployment_id="d1",
                target=f"t{i}",
                details={"i": i, "note": "café ✓"},
            )


def test_intact_chain_verifies(store: Store) -> None:
    _fill(store)
    result = verify(store)
    assert result.ok and result.rows == 6
    rows = entries(store)
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))


def test_edited_row_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    result = verify(store)
    assert not result.ok and result.bad_seq == 3
    assert "row 3" in str(result) and "edited" in str(result)


def test_edited_details_are_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(details='{"i":99}'))
    assert verify(store).bad_seq == 5


def test_deleted_row_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
    result = verify(store)
    assert not result.ok
    assert "row 4 deleted" in str(result)


def test_inserted_row_is_named(store: Store) -> None:
    """A forger who knows the algorithm renumbers later rows and gives the new row a valid hash."""
    _fill(store)
    with store.session() as s:
        for seq in range(6, 3, -1):  # make room at 4 (highest first: seq is the primary key)
            s.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(seq=seq + 1))
        prev = s.scalars(select(AuditEntry).where(AuditEntry.seq == 3)).one()
        forged = AuditEntry(
            seq=4,
            at=prev.at,
            actor="mallory",
            role="",
            action="alert.review",
            deployment_id="d1",
            target="x",
            details="{}",
            prev_hash=prev.hash,
        )
        forged.hash = entry_hash(forged)
        s.add(forged)
    result = verify(store)
    assert not result.ok and result.bad_seq == 4
    assert "row 4 was inserted" in str(result)


def test_verify_is_itself_audited(store: Store) -> None:
    _fill(store, 2)
    verify(store, actor="auditor (supervisor)")
    last = entries(store, last=1)[0]
    assert last.action == "audit.verify" and (last.actor, last.role) == ("auditor", "supervisor")
    assert verify(store).ok


def test_an_actor_is_required(store: Store) -> None:
    with pytest.raises(ValueError, match="actor"), store.session() as s:
        record(s, "  ", "x")


def test_audit_row_is_in_the_same_transaction(store: Store) -> None:
    """An action that fails leaves no audit row claiming it happened."""
    with pytest.raises(RuntimeError), store.session() as s:
        record(s, "alice", "something")
        raise RuntimeError("failed half-way")
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM audit_log")).scalar() == 0


def test_concurrent_writers_do_not_fork_the_chain(store: Store) -> None:
    """Two writers (threads with their own connections) appending at once still leave one clean chain."""
    import threading

    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(15):
                with store.session() as s:
                    record(s, name, "test.concurrent", details={"i": i})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{k}",)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    result = verify(store)
    assert result.ok and result.rows == 30
