"""Signing checkpoints: the audit key made on first use together with its first checkpoint, a signed
checkpoint appended after each commit that added rows and copied to every witness, and one on demand.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from typing import Any

from sqlalchemy import select

from openlfr.config import Settings
from openlfr.governance.audit_checkpoints import (
    CHECKPOINT_FILE,
    PUBLIC_KEY_FILE,
    Checkpoint,
    _append_line,
    _checkpoint_dir,
)
from openlfr.governance.audit_hashes import GENESIS, _format_time, canonical_json
from openlfr.governance.audit_key import AuditKey, load_audit_key
from openlfr.governance.audit_witness import WitnessError, witnesses
from openlfr.store import Store, utcnow
from openlfr.store.models import AuditEntry

log = logging.getLogger(__name__)


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
