"""A deployment's published documents (issue 27 §5): the data protection impact assessment, the equality
impact assessment and the policy document, stored as PDF or HTML in the data folder and linked from the
public page (the accessibility statement and privacy notice are the force's, linked from its settings).

They are public documents, so they are stored as given (not encrypted), after checks a security reviewer
would ask for: the size limit, a real PDF (header and end-of-file marker, no JavaScript or launch actions)
or UTF-8 HTML without scripts, frames, embedded objects or event handlers. They are served with a policy
that runs nothing either way. Each upload is audited with its SHA-256; a new one replaces the old.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from openlfr.config import Settings
from openlfr.governance.audit import ActorLike, record
from openlfr.governance.deployments import load
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.store import Store

DOCUMENT_KINDS: dict[str, str] = {
    "dpia": "Data protection impact assessment",
    "eia": "Equality impact assessment",
    "policy": "Policy document",
}
MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}

_PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/Launch", b"/EmbeddedFile", b"/OpenAction")
_HTML_ACTIVE = re.compile(
    r"<\s*(script|iframe|frame|object|embed|applet|form|base|meta\s+http-equiv)\b|\son[a-z]+\s*=|javascript:",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class StoredDocument:
    kind: str
    fmt: str
    """``pdf`` or ``html``."""
    path: Path

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]


def _folder(settings: Settings, deployment_id: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", deployment_id):
        raise NotFound(f"no deployment with id {deployment_id!r}")
    return settings.data_dir / "documents" / deployment_id


def check_document(data: bytes, name: str, max_bytes: int) -> str:
    """``pdf`` or ``html`` for an acceptable document; :class:`GovernanceError` naming the problem."""
    if not data:
        raise GovernanceError(f"{name} is empty")
    if len(data) > max_bytes:
        raise GovernanceError(
            f"{name} is {len(data):,} bytes, over governance.max_document_bytes ({max_bytes:,})"
        )
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in data[-2048:]:
            raise GovernanceError(f"{name} is not a complete PDF (no end-of-file marker): was it cut short?")
        active = [k.decode() for k in _PDF_ACTIVE if k in data]
        if active:
            raise GovernanceError(
                f"{name} contains active PDF content ({', '.join(active)}): publish a plain PDF"
            )
        return "pdf"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GovernanceError(f"{name} is neither a PDF nor UTF-8 HTML ({exc.reason})") from None
    if not re.search(r"<\s*(!doctype\s+html|html)\b", text[:4096], re.IGNORECASE):
        raise GovernanceError(f"{name} is neither a PDF (%PDF-) nor an HTML document (<!doctype html>)")
    m = _HTML_ACTIVE.search(text)
    if m:
        raise GovernanceError(
            f"{name} contains {m.group(0).strip()!r}: published HTML may hold no scripts, frames, objects, "
            "forms or event handlers"
        )
    return "html"


def store_document(
    store: Store, actor: ActorLike, deployment_id: str, kind: str, data: bytes, name: str
) -> StoredDocument:
    """Check and store one of a deployment's documents, replacing any earlier one of that kind (audited)."""
    if kind not in DOCUMENT_KINDS:
        raise GovernanceError(f"unknown document kind {kind!r}: one of {', '.join(DOCUMENT_KINDS)}")
    fmt = check_document(data, name, store.settings.governance.max_document_bytes)
    folder = _folder(store.settings, deployment_id)
    with store.session() as s:
        dep = load(s, deployment_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{kind}.{fmt}"
        tmp = folder / f".{kind}.{fmt}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, target)
        for other in MEDIA_TYPES:
            if other != fmt:
                (folder / f"{kind}.{other}").unlink(missing_ok=True)
        record(
            s,
            actor,
            "deployment.document",
            deployment_id=dep.id,
            target=kind,
            details={
                "format": fmt,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "name": name,
            },
        )
    return StoredDocument(kind, fmt, target)


def stored_documents(settings: Settings, deployment_id: str) -> dict[str, StoredDocument]:
    """The documents stored for a deployment, by kind."""
    try:
        folder = _folder(settings, deployment_id)
    except NotFound:
        return {}
    out: dict[str, StoredDocument] = {}
    for kind in DOCUMENT_KINDS:
        for fmt in MEDIA_TYPES:
            p = folder / f"{kind}.{fmt}"
            if p.is_file():
                out[kind] = StoredDocument(kind, fmt, p)
    return out
