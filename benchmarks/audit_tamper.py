"""Tamper with a real audit log the way someone holding the database would, and print what ``verify`` says.

Each case starts from a fresh store (SQLite, or PostgreSQL with ``--database-url``) with rows appended by
:func:`openlfr.governance.audit.record`; the attacker then edits, inserts, deletes or rewrites rows and
recomputes every later hash with the published algorithm (plain SHA-256: they do not hold the audit key),
except where they also stole the key file. Prints a Markdown table.

The **insider cases** (issue 25) play someone who holds the whole data folder (database, checkpoint log,
key files) but not the witness, a file outside it (``store.audit_witness_file``; in production another mount
or host, or ``chattr +a``). Each is run twice: with a witness configured, and without one, to show what
the witness adds. The last case tries an old master key and a copy of the database taken before
``keys rotate`` against data written after it.

    .venv/bin/python benchmarks/audit_tamper.py [--database-url postgresql+psycopg://...]

With ``--database-url`` every case gets its own schema in that (PostgreSQL) database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, delete, select, text, update

import _common  # noqa: F401  (puts src/ on the path)
from openlfr.config import Settings
from openlfr.governance.audit import record, verify
from openlfr.governance.audit_checkpoints import CHECKPOINT_FILE, PUBLIC_KEY_FILE, Checkpoint
from openlfr.governance.audit_hashes import GENESIS, canonical_json
from openlfr.governance.audit_key import load_audit_key
from openlfr.governance.master_key import rotate_master_key
from openlfr.store import Store, open_store, utcnow
from openlfr.store.crypto import CryptoError, KeyRing, MasterKey, decrypt, new_data_key
from openlfr.store.db import case_key_label
from openlfr.store.models import AuditEntry, RetroCase


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


# --- insider cases (issue 25): the whole data folder, but not the witness --------------------------------


def _checkpoint_log(st: Store) -> Path:
    return st.settings.audit_checkpoint_dir / CHECKPOINT_FILE


def cut_rows_and_checkpoint_lines(st: Store) -> None:
    with st.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 5))
    log = _checkpoint_log(st)
    kept = [ln for ln in log.read_text().splitlines() if json.loads(ln)["rows"] <= 5]
    log.write_text("".join(ln + "\n" for ln in kept))


def delete_checkpoint_log_then_write(st: Store) -> None:
    with st.session() as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq > 5))
    _checkpoint_log(st).unlink()
    with st.session() as s:  # one failed login is enough to write a row and a new checkpoint log
        record(s, "mallory", "user.login_failed", details={"username": "chief"})


def delete_key_and_checkpoints_rewrite_plainly(st: Store) -> None:
    st.settings.audit_key_file.unlink()
    shutil.rmtree(st.settings.audit_checkpoint_dir)
    with st.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    rehash_from(st, 1)


def replace_public_key(st: Store) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    (st.settings.audit_checkpoint_dir / PUBLIC_KEY_FILE).write_text(raw.hex() + "\n")


def stolen_key_rewrite_and_resign(st: Store) -> None:
    """The strongest local insider: rewrites row 2 with the stolen key and re-signs every checkpoint line."""
    key = load_audit_key(st.settings)
    assert key is not None
    with st.session() as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    rehash_from(st, 2, key.mac_key)
    with st.session() as s:
        heads = dict(s.execute(select(AuditEntry.seq, AuditEntry.hash)).tuples().all())
    lines = []
    for ln in _checkpoint_log(st).read_text().splitlines():
        cp = Checkpoint.from_dict(json.loads(ln))
        head = heads.get(cp.rows, GENESIS)
        unsigned = Checkpoint(cp.rows, head, cp.at, cp.keyed_from, "", cp.public_key)
        signed = Checkpoint(
            cp.rows, head, cp.at, cp.keyed_from, key.signing_key.sign(unsigned.payload()).hex(), cp.public_key
        )
        lines.append(canonical_json(signed.as_dict()))
    _checkpoint_log(st).write_text("".join(ln + "\n" for ln in lines))


INSIDER_CASES: list[tuple[str, Callable[[Store], None]]] = [
    ("cut rows 6-10 and the checkpoint lines that saw them", cut_rows_and_checkpoint_lines),
    ("cut rows 6-10, delete the checkpoint log, then one audited write", delete_checkpoint_log_then_write),
    (
        "delete audit.key and the checkpoints, rewrite every row with plain SHA-256",
        delete_key_and_checkpoints_rewrite_plainly,
    ),
    ("replace audit-checkpoints/public.key", replace_public_key),
    ("stolen audit key: rewrite row 2 and re-sign the whole checkpoint log", stolen_key_rewrite_and_resign),
]


def old_master_key_against_a_pre_rotation_copy(st: Store) -> str:
    """A copy of the database and the master key taken before `keys rotate`, against data written after."""
    now = utcnow()
    with st.session() as s:
        case = RetroCase(
            reference=f"CR-{uuid.uuid4().hex[:8]}",
            reason="tamper benchmark",
            opened_by="bench",
            opened_at=now,
            retain_until=now + timedelta(days=30),
        )
        s.add(case)
        s.flush()
        label = case_key_label(case.id)
        case.wrapped_key = st.keys.master.wrap(new_data_key(), label)
        case_id = case.id
    copied_master = st.settings.data_dir.parent / "stolen-master.key"
    shutil.copy(st.settings.master_key_file, copied_master)
    with st.sessions() as s:  # what a copy of the database holds: the case key wrapped under the old master
        copied_wrapped = s.get(RetroCase, case_id).wrapped_key  # type: ignore[union-attr]
    rotate_master_key(st, "admin (admin)")
    with st.sessions() as s:
        current = s.get(RetroCase, case_id)
        assert current is not None
    ring = st.key_ring(label, current.wrapped_key)
    folder = f"case-{case_id}"
    blob = st.blobs.put(folder, ring, b"probe crop written after the rotation")
    stolen = st.blobs.path(folder, blob).read_bytes()
    old_ring = KeyRing.single(MasterKey(copied_master).unwrap(copied_wrapped, label))  # type: ignore[arg-type]
    try:
        decrypt(old_ring, stolen, f"{folder}/{blob}".encode())
    except CryptoError as exc:
        return f"defeated: {exc}"
    return "NOT DEFEATED: the old key and copy opened a probe written after the rotation"


@contextmanager
def fresh_store(database_url: str | None, witness: bool) -> Iterator[Store]:
    root = Path(tempfile.mkdtemp(prefix="openlfr-tamper-"))
    store_cfg: dict[str, object] = {}
    if witness:
        store_cfg["audit_witness_file"] = root / "witness-mount" / "checkpoints.jsonl"
    schema = None
    admin = None
    if database_url:
        schema = f"tamper_{uuid.uuid4().hex[:10]}"
        admin = create_engine(database_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in database_url else "?"
        store_cfg["database_url"] = f"{database_url}{sep}options=-csearch_path%3D{schema}"
    st = open_store(Settings(data_dir=root / "openlfr", store=store_cfg))
    try:
        yield st
    finally:
        st.close()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        shutil.rmtree(root, ignore_errors=True)


def _fill(st: Store) -> None:
    for i in range(10):
        with st.session() as s:
            record(s, "alice (operator)", "test.action", deployment_id="d1", target=f"t{i}", details={"i": i})


def _verdict(st: Store) -> str:
    result = verify(st)
    said = str(result.problem or result).replace(str(st.settings.data_dir.parent), "<tmp>")
    return f"{'detected' if not result.ok else 'NOT DETECTED'}: {said}".replace("|", "/")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL; default SQLite")
    args = ap.parse_args()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"Outsider cases ({backend}): the database only, without the audit key\n")
    print("| tamper case (10 rows) | `openlfr audit verify` |\n| --- | --- |")
    for name, tamper in CASES:
        with fresh_store(args.database_url, witness=False) as st:
            _fill(st)
            tamper(st)
            print(f"| {name} | {_verdict(st)} |")
    print(f"\nInsider cases ({backend}): the whole data folder, not the witness\n")
    print("| insider case (10 rows) | with a witness | without a witness |\n| --- | --- | --- |")
    for name, tamper in INSIDER_CASES:
        verdicts = []
        for witness in (True, False):
            with fresh_store(args.database_url, witness=witness) as st:
                _fill(st)
                tamper(st)
                verdicts.append(_verdict(st))
        print(f"| {name} | {verdicts[0]} | {verdicts[1]} |")
    with fresh_store(args.database_url, witness=True) as st:
        verdict = old_master_key_against_a_pre_rotation_copy(st)
    print(
        f"| old master key + a copy of the database taken before `keys rotate`, against a probe written after | {verdict} | (no witness involved) |"
    )


if __name__ == "__main__":
    main()
