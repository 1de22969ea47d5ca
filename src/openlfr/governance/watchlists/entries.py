"""What a watchlist entry is made of, how it is checked, and what enrolment reports back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from openlfr.governance.categories import parse_choice
from openlfr.governance.closed_lists import parse_image_source, parse_offence_seriousness
from openlfr.governance.errors import GovernanceError
from openlfr.store.models import WATCHLIST_CATEGORIES


@dataclass(frozen=True)
class SubjectInfo:
    """A watchlist entry as the live pipeline and consoles see it (no images, no template)."""

    subject_id: str
    category: str
    reason: str
    name: str | None = None
    expires_at: datetime | None = None
    templates: int = 0

    @property
    def category_label(self) -> str:
        return WATCHLIST_CATEGORIES.get(self.category, self.category)


@dataclass
class SubjectEntry:
    """What a person enters to put someone on a watchlist."""

    subject_id: str
    category: str
    reason: str
    image_source: str
    legal_basis: str
    approved_by: str
    expires_at: datetime
    name: str | None = None
    date_of_birth: date | None = None
    offence_seriousness: str | None = None
    """A key or the words of ``closed_lists.OFFENCE_SERIOUSNESS`` (may be empty for a no-offence category)."""
    needs_approval: bool = False
    """Held back from searching until a second person approves it (every enrolment by a person through
    the API, console or command line; see :mod:`openlfr.governance.watchlist_approval`)."""


@dataclass(frozen=True)
class ReferenceImage:
    """One reference image as given: a label to name it in messages (its file name) and its bytes."""

    label: str
    data: bytes


@dataclass(frozen=True)
class SubjectImages:
    """A checked entry with the reference images offered for it."""

    entry: SubjectEntry
    images: Sequence[ReferenceImage]


@dataclass(frozen=True)
class Refusal:
    subject_id: str
    image: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject_id}: {self.image}: {self.reason}"


class EnrolmentError(GovernanceError):
    """Nothing was enrolled; ``refusals`` lists every problem found."""

    def __init__(self, message: str, refusals: Sequence[Refusal] = ()) -> None:
        self.refusals = list(refusals)
        detail = "".join(f"\n  - {r}" for r in self.refusals[:50])
        more = f"\n  ... and {len(self.refusals) - 50} more" if len(self.refusals) > 50 else ""
        super().__init__(message + detail + more)


@dataclass
class ImportReport:
    deployment_id: str
    subjects_enrolled: int = 0
    images_enrolled: int = 0
    refused: list[Refusal] = field(default_factory=list)
    subjects_refused: list[str] = field(default_factory=list)
    lookalikes: list[Refusal] = field(default_factory=list)
    """Images that looked like another subject, enrolled because a lookalike reason was given."""
    attractors: list[Refusal] = field(default_factory=list)
    """Images whose template attracts the reference crowd: enrolled with their own higher threshold, the
    evidence in ``reason`` for the approver (and in the audit log)."""
    attraction_checked: bool = False
    """False when no reference crowd was available (the check could not run; said so and audited)."""


def parse_category(value: str) -> str:
    """A category key from its key or its words (case-insensitive); anything else is refused."""
    return parse_choice(value, WATCHLIST_CATEGORIES, "category")


def parse_time(value: str, what: str) -> datetime:
    """ISO date or time; a date means the end of that day is not included (00:00 UTC of that day)."""
    try:
        t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise GovernanceError(
            f"{what} {value!r} is not an ISO date or time (e.g. 2025-12-31 or 2025-12-31T18:00Z)"
        ) from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_date(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise GovernanceError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD)") from exc


def validate_entry(entry: SubjectEntry, now: datetime) -> SubjectEntry:
    """The entry with its category normalised; :class:`GovernanceError` naming the first problem."""
    sid = entry.subject_id.strip() if entry.subject_id else ""
    if not sid:
        raise GovernanceError("a subject needs a subject id")
    if len(sid) > 200:
        raise GovernanceError(f"subject id {sid[:30]!r}... is longer than 200 characters")
    for name in ("reason", "image_source", "legal_basis", "approved_by"):
        if not (getattr(entry, name) or "").strip():
            raise GovernanceError(f"subject {sid}: {name.replace('_', ' ')} is required")
    category = parse_category(entry.category)
    expires = entry.expires_at
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    if expires <= now:
        raise GovernanceError(f"subject {sid}: expiry {expires.isoformat()} is in the past")
    if entry.date_of_birth is not None and entry.date_of_birth > now.date():
        raise GovernanceError(f"subject {sid}: date of birth {entry.date_of_birth} is in the future")
    return SubjectEntry(
        subject_id=sid,
        category=category,
        reason=entry.reason.strip(),
        image_source=parse_image_source(entry.image_source),
        legal_basis=entry.legal_basis.strip(),
        approved_by=entry.approved_by.strip(),
        expires_at=expires,
        name=(entry.name or "").strip() or None,
        date_of_birth=entry.date_of_birth,
        offence_seriousness=parse_offence_seriousness(entry.offence_seriousness, category),
        needs_approval=entry.needs_approval,
    )
