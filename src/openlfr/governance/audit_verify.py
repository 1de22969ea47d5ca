"""Verifying the audit log: walk the whole chain, compare it with the signed checkpoints, the witness and an
anchor from outside, and name the first row edited, inserted, deleted or rewritten, or a tail cut off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from openlfr.governance.audit_checkpoints import (
    CHECKPOINT_FILE,
    PUBLIC_KEY_FILE,
    Checkpoint,
    read_checkpoints,
)
from openlfr.governance.audit_hashes import GENESIS, _format_time, entry_hash
from openlfr.governance.audit_key import AuditKey, AuditKeyError, load_audit_key
from openlfr.governance.audit_witness import FileWitness, Witness, WitnessError, witnesses
from openlfr.store import Store
from openlfr.store.models import AuditEntry


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    bad_seq: int | None = None
    problem: str | None = None
    last_hash: str = GENESIS
    keyed_from: int | None = None
    """Rows up to this one predate the keyed chain (None: the chain was never keyed)."""
    checkpoint_rows: int | None = None
    """Rows the newest signed checkpoint saw (None: no checkpoint)."""
    witness: str | None = None
    """The file witness read (None: none configured)."""
    witness_rows: int | None = None
    """Rows the newest checkpoint in the witness saw."""

    @property
    def unanchored_rows(self) -> int:
        return self.rows - (self.checkpoint_rows or 0)

    def __str__(self) -> str:
        if not self.ok:
            return f"audit log BROKEN at row {self.bad_seq}: {self.problem}"
        if self.keyed_from is None:
            return f"audit log intact: {self.rows} rows, last hash {self.last_hash} (not yet keyed, no checkpoint)"
        anchored = (
            f"; signed checkpoint at row {self.checkpoint_rows}"
            + (
                f", {self.unanchored_rows} row(s) after it not yet anchored"
                if self.unanchored_rows > 0
                else ""
            )
            if self.checkpoint_rows is not None
            else "; no checkpoint yet"
        )
        witnessed = (
            f"; witness {self.witness} saw row {self.witness_rows}"
            if self.witness is not None and self.witness_rows is not None
            else "; NO WITNESS configured (store.audit_witness_file): an insider holding the data folder "
            "could rewrite the log and its checkpoints undetected"
            if self.witness is None
            else ""
        )
        return f"audit log intact: {self.rows} rows, last hash {self.last_hash}{anchored}{witnessed}"


def _verify(store: Store, *, expect_head: str | None = None, min_rows: int | None = None) -> VerifyResult:
    settings = store.settings
    try:
        key = load_audit_key(settings)
    except AuditKeyError as exc:
        return VerifyResult(False, 0, 0, str(exc))
    checkpoints, malformed = read_checkpoints(settings)
    if malformed:
        return VerifyResult(False, 0, 0, f"the checkpoint log was tampered with: {malformed[0]}")
    try:
        configured = witnesses(settings)
    except WitnessError as exc:
        return VerifyResult(False, 0, 0, str(exc))
    file_witness = next((w for w in configured if isinstance(w, FileWitness)), None)
    witnessed: list[Checkpoint] = []
    if file_witness is not None:
        got = file_witness.read()
        if got is not None:
            witnessed, bad_lines = got
            if bad_lines:
                return VerifyResult(False, 0, 0, f"the audit witness was tampered with: {bad_lines[0]}")
    pub_file = settings.audit_checkpoint_dir / PUBLIC_KEY_FILE
    if key is None:
        # Once keyed, always keyed: a key file gone is a failure, never "not yet keyed".
        evidence = [
            what
            for what, present in (
                (f"{len(checkpoints)} signed checkpoint(s)", bool(checkpoints)),
                (f"{pub_file}", pub_file.exists()),
                (f"{len(witnessed)} checkpoint(s) in the witness {file_witness}", bool(witnessed)),
            )
            if present
        ]
        if evidence:
            return VerifyResult(
                False,
                0,
                0,
                f"the log was keyed ({'; '.join(evidence)}) but the audit key file {settings.audit_key_file} "
                "is gone",
            )
    else:
        problem = _key_problem(key, pub_file, checkpoints, witnessed, file_witness)
        if problem is not None:
            return VerifyResult(False, 0, 0, problem, keyed_from=key.keyed_from)
    public_key = key.public_key_hex if key is not None else ""

    def forged(cp: Checkpoint) -> VerifyResult | None:
        # Signatures are checked where they decide something (the newest checkpoint, and any that disagrees
        # with the log), not on every line: a line that agrees with the log proves nothing either way.
        if cp.signature_ok(public_key):
            return None
        return VerifyResult(
            False,
            0,
            0,
            f"checkpoint of {cp.at} ({cp.rows} rows) has a bad signature: the checkpoint log was forged",
        )

    keyed_from = key.keyed_from if key is not None else None
    expected: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints + witnessed:
        expected.setdefault(cp.rows, []).append(cp)
    newest = max(checkpoints, key=lambda c: c.rows) if checkpoints else None
    if newest is not None and (bad := forged(newest)) is not None:
        return bad
    newest_witnessed = max(witnessed, key=lambda c: c.rows) if witnessed else None
    if newest_witnessed is not None and (newest is None or newest_witnessed.rows > newest.rows):
        newest = newest_witnessed  # the witness saw more than the local checkpoint log holds

    prev_hash = GENESIS
    prev_prev_hash: str | None = None
    prev_seq = 0
    rows = 0
    head_seen = False
    with store.sessions() as s:
        stream = s.execute(
            select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
        ).scalars()
        for entry in stream:
            rows += 1
            keyed = key is not None and entry.seq > key.keyed_from
            if entry_hash(entry, key.mac_key if keyed and key is not None else None) != entry.hash:
                return VerifyResult(
                    False,
                    rows,
                    entry.seq,
                    f"row {entry.seq} ({entry.action} by {entry.actor} at {_format_time(entry.at)}) was edited or "
                    "forged: its content does not match its "
                    + ("keyed hash (only the audit key can make one)" if keyed else "hash"),
                    keyed_from=keyed_from,
                )
            if entry.prev_hash != prev_hash:
                if prev_prev_hash is not None and entry.prev_hash == prev_prev_hash:
                    return VerifyResult(
                        False,
                        rows,
                        prev_seq,
                        f"row {prev_seq} was inserted: row {entry.seq} follows the row before it",
                        keyed_from=keyed_from,
                    )
                if entry.seq != prev_seq + 1:
                    missing = (
                        f"row {prev_seq + 1}"
                        if entry.seq == prev_seq + 2
                        else f"rows {prev_seq + 1}-{entry.seq - 1}"
                    )
                    return VerifyResult(
                        False,
                        rows,
                        entry.seq,
                        f"{missing} deleted before row {entry.seq}",
                        keyed_from=keyed_from,
                    )
                return VerifyResult(
                    False,
                    rows,
                    entry.seq,
                    f"row {entry.seq} does not follow row {prev_seq}: a row before it was deleted, replaced or "
                    "inserted",
                    keyed_from=keyed_from,
                )
            if entry.seq != prev_seq + 1:
                return VerifyResult(
                    False, rows, entry.seq, f"row {entry.seq} follows row {prev_seq}: the log was renumbered"
                )
            for cp in expected.get(entry.seq, ()):
                if cp.head != entry.hash:
                    if (bad := forged(cp)) is not None:
                        return bad
                    return VerifyResult(
                        False,
                        rows,
                        entry.seq,
                        f"row {entry.seq} is not the row the signed checkpoint of {cp.at} saw: the log was "
                        f"rewritten at or before row {entry.seq}",
                        keyed_from=keyed_from,
                    )
            if entry.hash == expect_head and (min_rows is None or entry.seq == min_rows):
                head_seen = True
            prev_prev_hash, prev_hash, prev_seq = prev_hash, entry.hash, entry.seq
    if newest is not None and newest.rows > prev_seq:
        what = (
            f"all {newest.rows} rows were deleted"
            if prev_seq == 0
            else f"rows {prev_seq + 1}-{newest.rows} were deleted from the end"
        )
        where = f" in the witness {file_witness}" if newest in witnessed else ""
        return VerifyResult(
            False,
            rows,
            prev_seq + 1,
            f"{what}: the signed checkpoint of {newest.at}{where} saw {newest.rows} rows, the log ends at row "
            f"{prev_seq}",
            keyed_from=keyed_from,
        )
    local_signatures = {cp.signature for cp in checkpoints}
    for cp in witnessed:
        if cp.signature not in local_signatures:
            return VerifyResult(
                False,
                rows,
                cp.rows,
                f"the checkpoint log {settings.audit_checkpoint_dir / CHECKPOINT_FILE} is behind its witness "
                f"{file_witness} or forked from it: it lacks the checkpoint of {cp.at} ({cp.rows} rows)",
                keyed_from=keyed_from,
            )
    if file_witness is not None and not witnessed and prev_seq > 0:
        return VerifyResult(
            False,
            rows,
            None,
            f"the audit witness {file_witness} holds no checkpoint but the log has {prev_seq} rows: it was "
            "deleted, or never written (`openlfr audit checkpoint` starts it)",
            keyed_from=keyed_from,
        )
    if key is not None and prev_seq > key.keyed_from and newest is None:
        return VerifyResult(
            False,
            rows,
            prev_seq,
            f"the keyed chain has {prev_seq - key.keyed_from} row(s) but the checkpoint log "
            f"{settings.audit_checkpoint_dir / CHECKPOINT_FILE} is gone",
            keyed_from=keyed_from,
        )
    if min_rows is not None and prev_seq < min_rows:
        return VerifyResult(
            False,
            rows,
            prev_seq + 1,
            f"the log ends at row {prev_seq}, the anchor given expects at least {min_rows} rows: rows were deleted",
            keyed_from=keyed_from,
        )
    if expect_head is not None and not head_seen:
        where = f"row {min_rows}" if min_rows is not None else "any row"
        return VerifyResult(
            False,
            rows,
            min_rows,
            f"the anchor given ({expect_head[:16]}...) is not the hash of {where}: the log was rewritten",
            keyed_from=keyed_from,
        )
    return VerifyResult(
        True,
        rows,
        last_hash=prev_hash,
        keyed_from=keyed_from,
        checkpoint_rows=newest.rows if newest is not None else None,
        witness=str(file_witness) if file_witness is not None else None,
        witness_rows=newest_witnessed.rows if newest_witnessed is not None else None,
    )


def _key_problem(
    key: AuditKey,
    pub_file: Path,
    checkpoints: list[Checkpoint],
    witnessed: list[Checkpoint],
    file_witness: Witness | None,
) -> str | None:
    """What is wrong around a present key: a replaced or missing ``public.key``, a checkpoint (local or
    witnessed) naming another key or not signed by this one, a checkpoint log that lost its first lines."""
    try:
        published = pub_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return f"{pub_file} is missing: the public key outsiders check the published checkpoints with is gone"
    except OSError as exc:
        return f"{pub_file} cannot be read: {exc}"
    if published != key.public_key_hex:
        return (
            f"{pub_file} was replaced: it does not hold the public key of the audit key "
            f"({key.public_key_hex[:16]}...), so published checkpoints could not be checked with it"
        )
    for cp in checkpoints + witnessed:
        if cp.public_key != key.public_key_hex:
            return f"the checkpoint of {cp.at} ({cp.rows} rows) names another public key: it was forged"
    for cp in witnessed:
        if not cp.signature_ok(key.public_key_hex):
            return f"the checkpoint of {cp.at} in the witness {file_witness} has a bad signature"
    if key.format >= 2 and not checkpoints:
        return (
            f"the checkpoint log {pub_file.parent / CHECKPOINT_FILE} is gone: the audit key was made at row "
            f"{key.keyed_from} with a first checkpoint, so a keyed log always has one"
        )
    if key.format >= 2 and not any(cp.rows == key.keyed_from for cp in checkpoints):
        return (
            f"the checkpoint log lost its first line(s): the key was made at row {key.keyed_from} and its "
            "checkpoint of that row is gone (the log was deleted or cut and written again)"
        )
    return None
