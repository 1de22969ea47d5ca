"""Watchlist storage: subjects and encrypted templates in the database, reference images as encrypted blobs,
all under the deployment's watchlist key (closing the deployment destroys the key and so all of it)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor
from openlfr.governance.deployments import load
from openlfr.governance.errors import GovernanceError
from openlfr.governance.watchlists.entries import SubjectEntry, SubjectInfo
from openlfr.matching.attraction import Attraction
from openlfr.store import Store, new_id
from openlfr.store.crypto import DataKey, decrypt, encrypt
from openlfr.store.models import Deployment, WatchlistSubject, WatchlistTemplate
from openlfr.vision import Face

_DIGEST_LABEL = b"openlfr/watchlist-image-digest/v1"


def image_digest(watchlist_key: bytes, data: bytes) -> str:
    """A reference image's digest keyed with the deployment's watchlist key (HMAC-SHA-256 under a key
    derived from it), hex. It finds the same image enrolled twice within a deployment, and it is what the
    audit log keeps: once the key is destroyed at close, someone holding a photo can no longer test whether
    it was on that watchlist (a plain SHA-256 would let them, for ever)."""
    sub_key = hmac.new(watchlist_key, _DIGEST_LABEL, hashlib.sha256).digest()
    return hmac.new(sub_key, data, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class PreparedImage:
    """A reference image that passed every check: its bytes, their keyed digest (:func:`image_digest`,
    stored in the ``image_sha256`` column) and its analysed face."""

    data: bytes
    sha256: str
    face: Face
    attraction: Attraction | None = None
    """The attraction check's evidence, when a reference crowd was there to check against."""

    @property
    def offset(self) -> float:
        """The template's own threshold over the deployment's (its rule decides: under ``attractors`` 0
        unless it is an attractor; under ``normalised`` signed)."""
        return self.attraction.offset if self.attraction is not None else 0.0


@dataclass(frozen=True)
class PreparedSubject:
    """An entry with its accepted reference images, ready to be written."""

    entry: SubjectEntry
    images: list[PreparedImage]


@dataclass(frozen=True)
class EnrolledTemplates:
    """A deployment's enrolled templates in position order, with each row's subject and image digest."""

    subject_ids: list[str]
    templates: np.ndarray
    image_sha256: set[str]


def template_aad(deployment_id: str, template_id: str) -> bytes:
    """Associated data binding an encrypted template to its deployment and row."""
    return f"{deployment_id}/template/{template_id}".encode()


def decode_template(store_key: DataKey, row: WatchlistTemplate) -> np.ndarray:
    raw = decrypt(store_key, row.template, template_aad(row.deployment_id, row.id))
    return np.frombuffer(raw, dtype=np.float32)


def load_enrolled(store: Store, s: Session, dep: Deployment, dim: int) -> EnrolledTemplates:
    key = store.keys.get(s, dep.id, "watchlist")
    rows = s.execute(
        select(WatchlistTemplate, WatchlistSubject.subject_id)
        .join(WatchlistSubject, WatchlistTemplate.subject_pk == WatchlistSubject.id)
        .where(WatchlistTemplate.deployment_id == dep.id)
        .order_by(WatchlistTemplate.position)
    ).all()
    templates = (
        np.stack([decode_template(key, t) for t, _ in rows]) if rows else np.zeros((0, dim), np.float32)
    )
    return EnrolledTemplates([sid for _, sid in rows], templates, {t.image_sha256 for t, _ in rows})


def check_enrollable(dep: Deployment) -> None:
    if dep.status == "closed":
        raise GovernanceError(
            f"deployment {dep.id} is closed: its watchlist was destroyed and cannot be added to"
        )


def check_new_ids(s: Session, dep: Deployment, entries: Sequence[SubjectEntry]) -> None:
    """Refuse subject ids repeated in ``entries`` or already on the deployment's watchlist."""
    counts: dict[str, int] = {}
    for e in entries:
        counts[e.subject_id] = counts.get(e.subject_id, 0) + 1
    repeated = sorted(sid for sid, n in counts.items() if n > 1)
    if repeated:
        raise GovernanceError(f"subject ids appear more than once: {', '.join(repeated[:20])}")
    existing = set(
        s.scalars(
            select(WatchlistSubject.subject_id).where(
                WatchlistSubject.deployment_id == dep.id,
                WatchlistSubject.subject_id.in_([e.subject_id for e in entries]),
            )
        )
    )
    if existing:
        raise GovernanceError(f"already on this watchlist: {', '.join(sorted(existing)[:20])}")


def write_subjects(
    store: Store,
    s: Session,
    dep: Deployment,
    prepared: Sequence[PreparedSubject],
    who: ActorLike,
    now: datetime,
    written_blobs: list[str],
) -> int:
    """Write subjects, templates and image blobs; returns the number of images. Blob ids are appended to
    ``written_blobs`` as they are written, so a failed transaction can delete them."""
    key = store.keys.get(s, dep.id, "watchlist")
    position = s.scalar(
        select(func.max(WatchlistTemplate.position)).where(WatchlistTemplate.deployment_id == dep.id)
    )
    next_pos = 0 if position is None else position + 1
    n_images = 0
    for p in prepared:
        e = p.entry
        subject = WatchlistSubject(
            deployment_id=dep.id,
            subject_id=e.subject_id,
            name=e.name,
            category=e.category,
            reason=e.reason,
            image_source=e.image_source,
            legal_basis=e.legal_basis,
            approved_by=e.approved_by,
            expires_at=e.expires_at,
            date_of_birth=e.date_of_birth,
            enrolled_at=now,
            enrolled_by=str(as_actor(who)),
            offence_seriousness=e.offence_seriousness,
            pending_approval=e.needs_approval,
        )
        s.add(subject)
        s.flush([subject])
        for img in p.images:
            face = img.face
            assert face.embedding is not None and face.quality is not None
            blob = store.blobs.put(dep.id, key, img.data)
            written_blobs.append(blob)
            tmpl = WatchlistTemplate(
                id=new_id(),
                subject_pk=subject.id,
                deployment_id=dep.id,
                position=next_pos,
                image_sha256=img.sha256,
                image_blob=blob,
                template=b"",
                embedding_size=int(face.embedding.shape[0]),
                quality_score=float(face.quality.score),
                created_at=now,
                attraction_offset=img.offset if img.attraction is not None else None,
                offset_rule=img.attraction.rule if img.attraction is not None else None,
            )
            tmpl.template = encrypt(
                key, face.embedding.astype(np.float32).tobytes(), template_aad(dep.id, tmpl.id)
            )
            s.add(tmpl)
            next_pos += 1
            n_images += 1
    return n_images


def list_subjects(store: Store, deployment_id: str) -> list[SubjectInfo]:
    with store.session() as s:
        load(s, deployment_id)
        counts = dict(
            s.execute(
                select(WatchlistTemplate.subject_pk, func.count())
                .where(WatchlistTemplate.deployment_id == deployment_id)
                .group_by(WatchlistTemplate.subject_pk)
            )
            .tuples()
            .all()
        )
        subjects = s.scalars(
            select(WatchlistSubject)
            .where(WatchlistSubject.deployment_id == deployment_id)
            .order_by(WatchlistSubject.subject_id)
        )
        return [
            SubjectInfo(x.subject_id, x.category, x.reason, x.name, x.expires_at, counts.get(x.id, 0))
            for x in subjects
        ]
