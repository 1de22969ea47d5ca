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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from openlfr.config import Settings
from openlfr.governance.errors import GovernanceError
from openlfr.store import Store, utcnow
from openlfr.store.models import AuditEntry

log = logging.getLogger(__name__)

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x61756469746C6F67
SETTINGS_INFO_KEY = "openlfr.settings"
"""Where a store's sessions carry its settings (``Session.info``), so :func:`record` finds the audit key."""
_PENDING = "openlfr.audit_pending"
_HOOKED = "openlfr.audit_hooked"
CHECKPOINT_FILE = "checkpoints.jsonl"
PUBLIC_KEY_FILE = "public.key"


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


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no whitespace, non-ASCII kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _format_time(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


# --- the key outside the database ------------------------------------------------------------------------


class AuditKeyError(RuntimeError):
    """The audit key file cannot be read (the message says which file and why)."""


@dataclass(frozen=True)
class AuditKey:
    """The audit key file: the chain's HMAC key, the checkpoint signing key, and where the keyed chain
    begins (rows ``1..keyed_from`` were written before the key existed and keep plain SHA-256 hashes)."""

    path: Path
    mac_key: bytes = field(repr=False)
    signing_key: Ed25519PrivateKey = field(repr=False)
    keyed_from: int
    format: int = 1
    """2: a checkpoint of row ``keyed_from`` was written when the key was made (so a checkpoint log that no
    longer starts there lost its first lines)."""

    @property
    def public_key_hex(self) -> str:
        raw = self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw.hex()


_KEY_CACHE: dict[Path, AuditKey] = {}
_KEY_LOCK = threading.Lock()


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"openlfr audit " + purpose).derive(
        secret
    )


def _parse_key_file(path: Path) -> AuditKey:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        secret = base64.b64decode(doc["secret"], validate=True)
        keyed_from = int(doc["keyed_from"])
        fmt = int(doc.get("format", 1))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"audit key file {path} cannot be read: {exc}") from exc
    if len(secret) != 32 or keyed_from < 0:
        raise AuditKeyError(f"audit key file {path} is malformed (32-byte secret, keyed_from >= 0 expected)")
    return AuditKey(
        path=path,
        mac_key=_derive(secret, b"chain"),
        signing_key=Ed25519PrivateKey.from_private_bytes(_derive(secret, b"checkpoint")),
        keyed_from=keyed_from,
        format=fmt,
    )


def load_audit_key(settings: Settings) -> AuditKey | None:
    """The audit key, or None if it was never created (a database from before keyed chains, or no rows)."""
    path = settings.audit_key_file
    with _KEY_LOCK:
        cached = _KEY_CACHE.get(path)
        if cached is not None and path.exists():
            return cached
        if not path.exists():
            _KEY_CACHE.pop(path, None)
            return None
        key = _parse_key_file(path)
        _KEY_CACHE[path] = key
        return key


def _create_audit_key(settings: Settings, legacy_rows: int, legacy_head: str = GENESIS) -> AuditKey:
    """Create the key file (0600) on first use; ``legacy_rows`` rows already in the log stay unkeyed. The first
    checkpoint, of row ``legacy_rows`` (0 for a new log), is written at once: the checkpoint log always starts
    where the key began, so one that was deleted and written again shows."""
    path = settings.audit_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": 2,
        "secret": base64.b64encode(os.urandom(32)).decode(),
        "keyed_from": legacy_rows,
        "created_at": utcnow().isoformat(),
    }
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass  # another process created it first: use theirs
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc) + "\n")
        key = load_audit_key(settings)
        assert key is not None
        _checkpoint_dir(settings).joinpath(PUBLIC_KEY_FILE).write_text(key.public_key_hex + "\n")
        write_checkpoint(settings, key, legacy_rows, legacy_head)
    key = load_audit_key(settings)
    assert key is not None
    return key


# --- hashes ----------------------------------------------------------------------------------------------


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


# --- checkpoints -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the log had ``rows`` rows and its last row's hash was ``head``."""

    rows: int
    head: str
    at: str
    keyed_from: int
    signature: str
    public_key: str

    def payload(self) -> bytes:
        return canonical_json(
            {"rows": self.rows, "head": self.head, "at": self.at, "keyed_from": self.keyed_from}
        ).encode()

    def signature_ok(self, public_key_hex: str | None = None) -> bool:
        """Whether the signature holds under ``public_key_hex`` (default: the key it names)."""
        try:
            pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex or self.public_key))
            pub.verify(bytes.fromhex(self.signature), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "head": self.head,
            "at": self.at,
            "keyed_from": self.keyed_from,
            "signature": self.signature,
            "public_key": self.public_key,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Checkpoint:
        return cls(
            rows=int(d["rows"]),
            head=str(d["head"]),
            at=str(d["at"]),
            keyed_from=int(d["keyed_from"]),
            signature=str(d["signature"]),
            public_key=str(d["public_key"]),
        )


def _checkpoint_dir(settings: Settings) -> Path:
    d = settings.audit_checkpoint_dir
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def write_checkpoint(settings: Settings, key: AuditKey, rows: int, head: str) -> Checkpoint:
    """Sign ``(rows, head)`` and append it to the checkpoint log (one ``write`` with O_APPEND: lines from
    concurrent writers never interleave)."""
    unsigned = Checkpoint(rows, head, _format_time(utcnow()), key.keyed_from, "", key.public_key_hex)
    cp = Checkpoint(
        rows,
        head,
        unsigned.at,
        key.keyed_from,
        key.signing_key.sign(unsigned.payload()).hex(),
        key.public_key_hex,
    )
    line = (canonical_json(cp.as_dict()) + "\n").encode()
    _append_line(_checkpoint_dir(settings) / CHECKPOINT_FILE, line)
    try:
        configured = witnesses(settings)
    except WitnessError as exc:
        log.error("audit checkpoint of row %s not witnessed: %s", rows, exc)
        configured = []
    for witness in configured:
        try:
            witness.append(cp)
        except (OSError, WitnessError) as exc:  # the row is committed: say loudly that it is not witnessed
            log.error("audit checkpoint of row %s not written to the witness %s: %s", rows, witness, exc)
    return cp


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


# --- witnesses: copies of every checkpoint the service cannot rewrite --------------------------------------


class WitnessError(AuditKeyError):
    """A witness is misconfigured (e.g. inside the data folder) or cannot be read."""


class Witness:
    """Somewhere outside the data folder that receives every signed checkpoint and that the service cannot
    rewrite. :meth:`read` returns what it holds, or None for a write-only witness (e.g. remote syslog).

    An RFC 3161 timestamp authority fits the same interface: ``append`` would send the checkpoint's payload
    hash and keep the signed token beside the line; it is not built (see docs/audit-log.md)."""

    def append(self, cp: Checkpoint) -> None:
        raise NotImplementedError

    def read(self) -> tuple[list[Checkpoint], list[str]] | None:
        return None


class FileWitness(Witness):
    """An append-only file (``store.audit_witness_file``): another mount or host, or ``chattr +a``. Each
    checkpoint is one line appended with ``O_APPEND``; nothing here ever truncates or rewrites it."""

    def __init__(self, path: Path, data_dir: Path) -> None:
        resolved = path.expanduser().resolve()
        data = data_dir.expanduser().resolve()
        if resolved == data or data in resolved.parents:
            raise WitnessError(
                f"the audit witness {path} is inside the data folder {data_dir}: whoever can rewrite the data "
                "folder could rewrite it too; put it on another mount or host (store.audit_witness_file)"
            )
        self.path = resolved

    def __str__(self) -> str:
        return str(self.path)

    def append(self, cp: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _append_line(self.path, (canonical_json(cp.as_dict()) + "\n").encode())

    def read(self) -> tuple[list[Checkpoint], list[str]] | None:
        if not self.path.exists():
            return None
        return _read_checkpoint_lines(self.path)


class SyslogWitness(Witness):
    """A remote syslog collector (``store.audit_witness_syslog``, ``host:port`` over UDP): write-only."""

    def __init__(self, address: str) -> None:
        host, sep, port = address.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise WitnessError(f"store.audit_witness_syslog {address!r} is not host:port")
        self.address = (host, int(port))

    def __str__(self) -> str:
        return f"syslog://{self.address[0]}:{self.address[1]}"

    def append(self, cp: Checkpoint) -> None:
        import socket

        # RFC 5424-style priority <110> = facility log audit (13), severity informational (6).
        msg = f"<110>1 {cp.at} - openlfr - audit-checkpoint - {canonical_json(cp.as_dict())}".encode()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(msg, self.address)


def witnesses(settings: Settings) -> list[Witness]:
    """The configured witnesses (the file witness first)."""
    out: list[Witness] = []
    if settings.store.audit_witness_file is not None:
        out.append(FileWitness(settings.store.audit_witness_file, settings.data_dir))
    if settings.store.audit_witness_syslog:
        out.append(SyslogWitness(settings.store.audit_witness_syslog))
    return out


def read_checkpoints(settings: Settings) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in the log, and a problem for every line that is not a well-formed checkpoint."""
    path = settings.audit_checkpoint_dir / CHECKPOINT_FILE
    if not path.exists():
        return [], []
    return _read_checkpoint_lines(path)


def _read_checkpoint_lines(path: Path) -> tuple[list[Checkpoint], list[str]]:
    found: list[Checkpoint] = []
    problems: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                found.append(Checkpoint.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                problems.append(f"line {n} of {path} is not a checkpoint")
    return found, problems


def latest_checkpoint(store: Store) -> dict[str, Any] | None:
    """The newest (highest row count) signed checkpoint, as published with the deployment records."""
    key = load_audit_key(store.settings)
    found, _ = read_checkpoints(store.settings)
    good = [c for c in found if key is None or c.signature_ok(key.public_key_hex)]
    if not good:
        return None
    return max(good, key=lambda c: (c.rows, c.at)).as_dict()


def checkpoint_now(store: Store) -> dict[str, Any] | None:
    """Write a checkpoint of the log as it stands (None for an empty log without a key)."""
    settings = store.settings
    with store.sessions() as s:
        last = s.execute(
            select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
    key = load_audit_key(settings)
    if key is None:
        if last is None:
            return None
        key = _create_audit_key(settings, legacy_rows=last[0], legacy_head=last[1])
    return write_checkpoint(settings, key, last[0] if last else 0, last[1] if last else GENESIS).as_dict()


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


# --- verification ----------------------------------------------------------------------------------------


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
