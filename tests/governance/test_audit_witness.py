"""Issue 25 item 3: the audit log holds against an insider who holds the data folder but not the witness.

Each case is a reproduction from the issue: the insider cuts rows and the checkpoint lines that saw them,
deletes the checkpoint log and lets the next write start a new one, deletes the key and the checkpoints and
rewrites every row with plain SHA-256, or replaces ``public.key``. Before this round each verified intact.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest
from sqlalchemy import delete

from openlfr.governance.audit import record, verify
from openlfr.governance.audit_checkpoints import CHECKPOINT_FILE, PUBLIC_KEY_FILE, read_checkpoints
from openlfr.store import Store
from openlfr.store.models import AuditEntry
from tests.governance.test_audit import _fill, _rehash_from


@pytest.fixture
def witness(store: Store, tmp_path: Path) -> Path:
    """A witness file outside the data folder (in production: another mount or host, or ``chattr +a``)."""
    path = tmp_path / "witness-mount" / "openlfr-checkpoints.jsonl"
    store.settings.store.audit_witness_file = path
    return path


def _checkpoint_log(store: Store) -> Path:
    return store.settings.audit_checkpoint_dir / CHECKPOINT_FILE


def _cut(store: Store, keep: int) -> None:
    """The insider's cut: rows after ``keep`` and every checkpoint line that saw them (no key needed)."""
    with store.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > keep))
    log = _checkpoint_log(store)
    kept = [ln for ln in log.read_text().splitlines() if json.loads(ln)["rows"] <= keep]
    log.write_text("".join(ln + "\n" for ln in kept))


def test_every_checkpoint_is_also_in_the_witness(store: Store, witness: Path) -> None:
    _fill(store, 4)
    local, _ = read_checkpoints(store.settings)
    seen = [json.loads(ln) for ln in witness.read_text().splitlines()]
    assert [c["rows"] for c in seen] == [c.rows for c in local] == [0, 1, 2, 3, 4]
    result = verify(store)
    assert result.ok and result.witness_rows == 4 and str(witness) in str(result), str(result)


def test_cut_rows_and_their_checkpoint_lines_are_caught_by_the_witness(store: Store, witness: Path) -> None:
    _fill(store, 6)
    _cut(store, 3)
    result = verify(store)
    assert not result.ok and "rows 4-6 were deleted from the end" in str(result.problem)
    assert "witness" in str(result.problem)


def test_without_a_witness_verify_says_it_cannot_see_a_cut(store: Store) -> None:
    _fill(store, 6)
    _cut(store, 3)
    result = verify(store)  # what the issue reproduced: nothing outside the data folder saw rows 4-6
    assert result.ok and "NO WITNESS" in str(result)


@pytest.mark.parametrize("with_witness", [True, False])
def test_deleting_the_checkpoint_log_then_writing_is_still_caught(
    store: Store, tmp_path: Path, with_witness: bool
) -> None:
    if with_witness:
        store.settings.store.audit_witness_file = tmp_path / "w" / "checkpoints.jsonl"
    _fill(store, 5)
    _cut(store, 3)
    _checkpoint_log(store).unlink()
    with store.session() as s:  # any audited write (a failed login makes one) starts a new checkpoint log
        record(s, "mallory", "user.login_failed")
    result = verify(store)
    # The checkpoint log no longer starts where the key began (and the witness holds lines it lacks).
    assert not result.ok and "lost its first line" in str(result.problem), str(result)


def test_deleting_key_and_checkpoints_then_rewriting_plainly_is_not_not_yet_keyed(
    store: Store, witness: Path
) -> None:
    _fill(store, 5)
    store.settings.audit_key_file.unlink()
    shutil.rmtree(store.settings.audit_checkpoint_dir)
    _rehash_from(store, 1)  # every row rewritten with plain SHA-256, as an unkeyed log would be
    result = verify(store)
    assert not result.ok and "not yet keyed" not in str(result)
    assert "was keyed" in str(result.problem) and "audit key file" in str(result.problem)


def test_a_key_file_gone_with_the_checkpoints_left_is_a_failure(store: Store) -> None:
    _fill(store, 3)
    store.settings.audit_key_file.unlink()
    _rehash_from(store, 1)
    result = verify(store)
    assert not result.ok and "was keyed" in str(result.problem)


def test_a_replaced_public_key_is_caught(store: Store, witness: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    _fill(store, 3)
    other = Ed25519PrivateKey.generate().public_key()
    raw = other.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    (store.settings.audit_checkpoint_dir / PUBLIC_KEY_FILE).write_text(raw + "\n")
    result = verify(store)
    assert not result.ok and "public.key was replaced" in str(result.problem)


def test_a_witness_inside_the_data_folder_is_refused(store: Store) -> None:
    store.settings.store.audit_witness_file = store.settings.data_dir / "witness.jsonl"
    _fill(store, 1)  # the write itself goes on (it is committed), and says so in the log
    result = verify(store)
    assert not result.ok and "inside the data folder" in str(result.problem)


def test_checkpoints_go_to_a_remote_syslog(store: Store) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        store.settings.store.audit_witness_syslog = f"127.0.0.1:{sock.getsockname()[1]}"
        _fill(store, 1)
        messages = [sock.recv(65536).decode() for _ in range(2)]  # the key's first checkpoint, then row 1
    assert all(m.startswith("<110>1 ") and "audit-checkpoint" in m for m in messages)
    assert json.loads(messages[1].split(" - ", 3)[-1])["rows"] == 1


def test_a_keyed_log_with_its_checkpoint_log_gone_is_a_failure_even_without_keyed_rows(store: Store) -> None:
    # The key is made (with its first checkpoint, of row 0) by a write whose transaction then failed.
    with pytest.raises(RuntimeError), store.session() as s:
        record(s, "alice", "something")
        raise RuntimeError("failed half-way")
    assert verify(store).ok
    _checkpoint_log(store).unlink()
    result = verify(store)
    assert not result.ok and "checkpoint log" in str(result.problem) and "is gone" in str(result.problem)
