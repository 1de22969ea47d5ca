"""Second-person approval of watchlist entries: enrolled by one person, searched only once another approved.

Enrolment by a person (API, console, command line) stores the entry with ``pending_approval``; the live
gateway leaves pending entries out of the searched watchlist. A second person, never the one who enrolled
it, approves the entry (it becomes searchable at the next watchlist load) or rejects it (the entry, its
templates and its encrypted images are deleted). Both are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.deployments import load
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.store import Store, utcnow
from openlfr.store.models import WATCHLIST_CATEGORIES, WatchlistSubject, WatchlistTemplate

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class PendingEntry:
    """What the second person checks: the entry as entered, who enrolled it, and its images' quality."""

    subject_id: str
    name: str | None
    category: str
    reason: str
    image_source: str
    legal_basis: str
    approved_by: str
    expires_at: datetime
    enrolled_by: str
    enrolled_at: datetime
    quality_scores: list[float] = field(default_factory=list)

    @property
    def category_label(self) -> str:
        return WATCHLIST_CATEGORIES.get(self.category, self.category)

    def as_dict(self) -> dict[str, object]:
        return {
            "subject_id": self.subject_id,
            "name": self.name,
            "category": self.category,
            "category_label": self.category_label,
            "reason": self.reason,
            "image_source": self.image_source,
            "legal_basis": self.legal_basis,
            "approved_by": self.approved_by,
            "expires_at": self.expires_at.isoformat(),
            "enrolled_by": self.enrolled_by,
            "enrolled_at": self.enrolled_at.isoformat(),
            "images": len(self.quality_scores),
            "quality_scores": [round(q, 3) for q in self.quality_scores],
        }


def pending_entries(store: Store, deployment_id: str) -> list[PendingEntry]:
    """Entries of a deployment waiting for approval, oldest first."""
    with store.session() as s:
        load(s, deployment_id)
        subjects = list(
            s.scalars(
                select(WatchlistSubject)
                .where(
                    WatchlistSubject.deployment_id == deployment_id,
                    WatchlistSubject.pending_approval.is_(True),
                )
                .order_by(WatchlistSubject.enrolled_at, WatchlistSubject.subject_id)
            )
        )
        out = []
        for x in subjects:
            scores = list(
                s.scalars(
                    select(WatchlistTemplate.quality_score)
                    .where(WatchlistTemplate.subject_pk == x.id)
                    .order_by(WatchlistTemplate.position)
                )
            )
            out.append(
                PendingEntry(
                    x.subject_id,
                    x.name,
                    x.category,
                    x.reason,
                    x.image_source,
                    x.legal_basis,
                    x.approved_by,
                    x.expires_at,
                    x.enrolled_by,
                    x.enrolled_at,
                    [float(q) for q in scores],
                )
            )
        return out


def _pending(s: Session, deployment_id: str, subject_id: str) -> WatchlistSubject:
    dep = load(s, deployment_id, for_update=True)
    if dep.status == "closed":
        raise GovernanceError(f"deployment {dep.id} is closed: its watchlist was destroyed")
    subject = s.scalars(
        select(WatchlistSubject).where(
            WatchlistSubject.deployment_id == deployment_id, WatchlistSubject.subject_id == subject_id
        )
    ).first()
    if subject is None:
        raise NotFound(f"subject {subject_id} is not on deployment {deployment_id}'s watchlist")
    if not subject.pending_approval:
        raise GovernanceError(f"subject {subject_id} is not waiting for approval")
    return subject


def _same_person(a: str, b: str) -> bool:
    return as_actor(a).name.strip().lower() == as_actor(b).name.strip().lower()


def approve_entry(
    store: Store, actor: ActorLike, deployment_id: str, subject_id: str, *, clock: Clock = utcnow
) -> None:
    """Approve a pending entry; refused for the person who enrolled it (audited either way it succeeds)."""
    who = as_actor(actor)
    now = clock()
    with store.session() as s:
        subject = _pending(s, deployment_id, subject_id)
        if _same_person(subject.enrolled_by, str(who)):
            raise GovernanceError(
                f"subject {subject_id} was enrolled by {who.name}: a second person must approve it"
            )
        subject.pending_approval = False
        subject.approved_by_user = str(who)
        subject.approved_at = now
        record(
            s,
            who,
            "watchlist.approve",
            deployment_id=deployment_id,
            target=subject_id,
            details={"enrolled_by": subject.enrolled_by},
            at=now,
        )


def reject_entry(
    store: Store, actor: ActorLike, deployment_id: str, subject_id: str, reason: str, *, clock: Clock = utcnow
) -> int:
    """Reject a pending entry: it is deleted with its templates and images. Returns the images deleted."""
    who = as_actor(actor)
    if not reason.strip():
        raise GovernanceError("say why the entry is rejected")
    now = clock()
    with store.session() as s:
        subject = _pending(s, deployment_id, subject_id)
        blobs = [t.image_blob for t in subject.templates if t.image_blob]
        s.delete(subject)
        record(
            s,
            who,
            "watchlist.reject",
            deployment_id=deployment_id,
            target=subject_id,
            details={"reason": reason.strip(), "enrolled_by": subject.enrolled_by, "images": len(blobs)},
            at=now,
        )
    return store.blobs.delete_many(deployment_id, blobs)


def entry_image(
    store: Store, actor: ActorLike, deployment_id: str, subject_id: str, index: int, *, clock: Clock = utcnow
) -> bytes:
    """The entry's ``index``-th reference image (0 first, in enrolment order), decrypted for the person who checks it before approving (audited as
    ``watchlist.image_read``, like every read of watchlist images)."""
    with store.session() as s:
        dep = load(s, deployment_id)
        if dep.status == "closed":
            raise GovernanceError(f"deployment {dep.id} is closed: its watchlist was destroyed")
        row = s.execute(
            select(WatchlistTemplate.image_blob)
            .join(WatchlistSubject, WatchlistTemplate.subject_pk == WatchlistSubject.id)
            .where(
                WatchlistSubject.deployment_id == deployment_id,
                WatchlistSubject.subject_id == subject_id,
            )
            .order_by(WatchlistTemplate.position)
            .offset(max(index, 0))
            .limit(1)
        ).first()
        if row is None or index < 0:
            raise NotFound(f"entry {subject_id!r} of deployment {deployment_id} has no image {index + 1}")
        key = store.keys.get(s, deployment_id, "watchlist")
        data = store.blobs.get(deployment_id, row[0], key)
        record(
            s,
            actor,
            "watchlist.image_read",
            deployment_id=deployment_id,
            target=subject_id,
            at=clock(),
            details={"image": index, "purpose": "approval check"},
        )
        return data
