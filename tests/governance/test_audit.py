"""Rule 6: the audit log is chained with a key kept outside the database and anchored by signed
checkpoints outside it; an edited, inserted or deleted row, a cut-off tail, an emptied log and a rewrite
are found and named.

The tamper cases play an attacker who holds the database and knows the algorithm: after each change they
recompute every hash from the changed row on with plain SHA-256 (the only way without the key). Before the
chain was keyed, each of these passed ``verify``.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import shutil
import stat

import pytest
from sqlalchemy import delete, func, select, text, update

from openlfr.governance.audit import entries, record, verify
from openlfr.governance.audit_checkpoints import latest_checkpoint, read_checkpoints
from openlfr.governance.audit_hashes import GENESIS, canonical_json
from openlfr.governance.audit_key import load_audit_key
from openlfr.governance.audit_signing import checkpoint_now
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


def _forge_hash(row: AuditEntry, prev_hash: str, key: bytes | None = None) -> str:
    """The hash an attacker computes: the published algorithm, with the key only if they stole it."""
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
    message = (body + prev_hash).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest() if key else hashlib.sha256(message).hexdigest()


def _rehash_from(store: Store, first_seq: int, key: bytes | None = None) -> None:
    """Recompute prev_hash and hash of every row from ``first_seq`` on, so the chain links up again."""
    with store.session() as s:
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        prev = GENESIS
        for row in rows:
            if row.seq >= first_seq:
                row.prev_hash = prev
                row.hash = _forge_hash(row, prev, key)
            prev = row.hash


def _count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_intact_chain_verifies_and_is_keyed(store: Store) -> None:
    _fill(store)
    result = verify(store)
    assert result.ok and result.rows == 6, str(result)
    assert result.checkpoint_rows == 6 and result.keyed_from == 0
    rows = entries(store)
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    # Keyed: the plain SHA-256 of a row is not its hash.
    assert all(_forge_hash(r, r.prev_hash) != r.hash for r in rows)


def test_key_and_checkpoints_live_outside_the_database_0600(store: Store) -> None:
    _fill(store, 2)
    key_file = store.settings.audit_key_file
    assert key_file.parent == store.settings.master_key_file.parent
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    log = store.settings.audit_checkpoint_dir / "checkpoints.jsonl"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    found, problems = read_checkpoints(store.settings)
    assert not problems and [c.rows for c in found] == [0, 1, 2]  # 0: written when the key was made
    assert all(c.signature_ok() for c in found)
    published = latest_checkpoint(store)
    assert published is not None and published["rows"] == 2 and published["head"] == entries(store)[-1].hash
    pub = (store.settings.audit_checkpoint_dir / "public.key").read_text().strip()
    assert pub == published["public_key"]


# --- the tamper cases: each passed verify before the chain was keyed and anchored ------------------------


def test_tamper_edit_with_rehash_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    _rehash_from(store, 3)
    result = verify(store)
    assert not result.ok and result.bad_seq == 3, str(result)
    assert "row 3" in str(result) and "edited" in str(result)


def test_tamper_insert_with_renumber_and_rehash_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        for seq in range(6, 3, -1):  # make room at 4 (highest first: seq is the primary key)
            s.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(seq=seq + 1))
        prev = s.scalars(select(AuditEntry).where(AuditEntry.seq == 3)).one()
        forged = AuditEntry(
            seq=4,
            at=prev.at,
            actor="mallory",
            role="operator",
            action="alert.review",
            deployment_id="d1",
            target="x",
            details="{}",
            prev_hash=prev.hash,
            hash="f" * 64,
        )
        s.add(forged)
    _rehash_from(store, 4)
    result = verify(store)
    assert not result.ok and result.bad_seq == 4, str(result)


def test_tamper_middle_delete_with_renumber_and_rehash_is_named(store: Store) -> None:
    _fill(store)
    with store.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 4))
        for seq in (5, 6):
            s.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(seq=seq - 1))
    _rehash_from(store, 4)
    result = verify(store)
    assert not result.ok and result.bad_seq == 4, str(result)


def test_tamper_tail_delete_is_named(store: Store) -> None:
    """The issue's case: delete the newest rows; the chain that is left is perfectly linked."""
    _fill(store, 10)
    with store.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 5))
    result = verify(store)
    assert not result.ok and result.bad_seq == 6, str(result)
    assert "rows 6-10 were deleted from the end" in str(result)


def test_tamper_delete_all_is_named(store: Store) -> None:
    _fill(store, 4)
    with store.session() as s:
        s.execute(delete(AuditEntry))
    result = verify(store)
    assert not result.ok and "all 4 rows were deleted" in str(result), str(result)


def test_tamper_rewrite_from_a_row_with_forged_append_is_named(store: Store) -> None:
    """Rewrite every hash from row 3 on and append a forged alert.review (the issue's case)."""
    _fill(store)
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(details='{"i":99}'))
        last = s.scalars(select(AuditEntry).where(AuditEntry.seq == 6)).one()
        s.add(
            AuditEntry(
                seq=7,
                at=last.at,
                actor="mallory",
                role="operator",
                action="alert.review",
                deployment_id="d1",
                target="a1",
                details='{"decision":"false_alert"}',
                prev_hash=last.hash,
                hash="e" * 64,
            )
        )
    _rehash_from(store, 3)
    result = verify(store)
    assert not result.ok and result.bad_seq == 3, str(result)


def test_rewrite_by_someone_holding_the_key_is_caught_by_the_checkpoints(store: Store) -> None:
    """Even with the key file stolen, a rewrite differs from what the signed checkpoints saw."""
    _fill(store)
    key = load_audit_key(store.settings)
    assert key is not None
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    _rehash_from(store, 2, key.mac_key)
    result = verify(store)
    assert not result.ok and result.bad_seq == 2 and "checkpoint" in str(result), str(result)


def test_forged_checkpoint_line_is_refused(store: Store) -> None:
    _fill(store, 2)
    log = store.settings.audit_checkpoint_dir / "checkpoints.jsonl"
    last = json.loads(log.read_text().splitlines()[-1])
    last["rows"] = 1
    with log.open("a") as fh:
        fh.write(json.dumps(last) + "\n")
    result = verify(store)
    assert not result.ok and "bad signature" in str(result), str(result)
    # A forged line claiming more rows than were written is not mistaken for a cut-off tail either.
    lines = log.read_text().splitlines()[:-1]
    claim = json.loads(lines[-1])
    claim["rows"] = 99
    log.write_text("\n".join([*lines, json.dumps(claim)]) + "\n")
    result = verify(store)
    assert not result.ok and "bad signature" in str(result) and "deleted" not in str(result), str(result)


def test_external_anchor_catches_what_the_local_files_cannot(store: Store) -> None:
    """Someone who deletes every row and the files next to the database is caught by a published anchor."""
    _fill(store, 5)
    anchor = latest_checkpoint(store)
    assert anchor is not None
    assert verify(store, expect_head=anchor["head"], min_rows=anchor["rows"]).ok
    with store.session() as s:
        s.execute(delete(AuditEntry))
    store.settings.audit_key_file.unlink()
    shutil.rmtree(store.settings.audit_checkpoint_dir)
    assert verify(store).ok  # nothing local is left to compare with
    result = verify(store, expect_head=anchor["head"], min_rows=anchor["rows"])
    assert not result.ok and "at least 5 rows" in str(result), str(result)
    assert not verify(store, expect_head="ab" * 32).ok


def test_a_chain_from_before_the_key_migrates_forward(store: Store) -> None:
    """A database written by the unkeyed version: its rows stay verifiable, later rows are keyed, and the
    first checkpoint anchors the old rows."""
    from datetime import UTC, datetime

    prev = GENESIS
    with store.session() as s:
        for seq in range(1, 4):
            row = AuditEntry(
                seq=seq,
                at=datetime(2030, 1, 1, 9, seq, tzinfo=UTC),
                actor="old",
                role="cli",
                action="deployment.create",
                deployment_id=None,
                target=None,
                details="{}",
                prev_hash=prev,
            )
            row.hash = _forge_hash(row, prev)
            s.add(row)
            prev = row.hash
    assert load_audit_key(store.settings) is None
    before = verify(store)
    assert before.ok and before.keyed_from is None and before.rows == 3
    _fill(store, 2)
    key = load_audit_key(store.settings)
    assert key is not None and key.keyed_from == 3
    result = verify(store)
    assert result.ok and result.rows == 5, str(result)
    found, _ = read_checkpoints(store.settings)
    assert found[0].rows == 3 and found[0].head == prev  # the checkpoint that marks where keying began
    # Rewriting the old, unkeyed rows consistently is still caught: the keyed row 4 names row 3's hash.
    with store.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    _rehash_from(store, 2)
    assert not verify(store).ok


def test_checkpoint_now_and_unanchored_rows(store: Store) -> None:
    _fill(store, 3)
    cp = checkpoint_now(store)
    assert cp is not None and cp["rows"] == 3


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
    """An action that fails leaves no audit row claiming it happened, and no checkpoint of it."""
    with pytest.raises(RuntimeError), store.session() as s:
        record(s, "alice", "something")
        raise RuntimeError("failed half-way")
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM audit_log")).scalar() == 0
    found, _ = read_checkpoints(store.settings)
    assert [c.rows for c in found] == [0]  # only the key's own first checkpoint, of the empty log
    assert verify(store).ok


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
    assert result.ok and result.rows == 30 and result.checkpoint_rows == 30, str(result)
    assert _count(store) == 30
