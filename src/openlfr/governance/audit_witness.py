"""The witness (issue 25): places outside the data folder, which the service cannot rewrite, that receive a
copy of every signed checkpoint (an append-only file, a remote syslog collector).
"""

from __future__ import annotations

from pathlib import Path

from openlfr.config import Settings
from openlfr.governance.audit_checkpoints import Checkpoint, _append_line, _read_checkpoint_lines
from openlfr.governance.audit_hashes import canonical_json
from openlfr.governance.audit_key import AuditKeyError


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
