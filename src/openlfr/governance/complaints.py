"""The complaints register (issue 27 §2): what was complained about, when, about which deployment or
encounter, and how it ended. It holds no complainant's details (those stay in the force's own complaints
system, under ``external_ref``); the published record and yearly totals count complaints by category and
outcome, never with an id or a reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.categories import parse_choice
from openlfr.governance.deployment_checks import check_published_fields
from openlfr.governance.deployments import load
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.references import parse_reference
from openlfr.store import Store, utcnow
from openlfr.store.models import Alert, Complaint

Clock = Callable[[], datetime]

COMPLAINT_CATEGORIES: dict[str, str] = {
    "use_of_lfr": "the use of live facial recognition itself",
    "misidentification": "being wrongly identified (a false alert)",
    "stop_or_conduct": "how the stop was carried out or officers' conduct",
    "discrimination": "discrimination or unequal treatment",
    "data_handling": "how personal data was handled",
    "information_or_signage": "information, signage or the leaflet",
    "other": "other",
}
COMPLAINT_OUTCOMES: dict[str, str] = {
    "upheld": "upheld",
    "partly_upheld": "partly upheld",
    "not_upheld": "not upheld",
    "resolved": "resolved without a finding",
    "withdrawn": "withdrawn",
    "referred": "referred to another body (IOPC or ICO)",
}


@dataclass(frozen=True)
class ComplaintInfo:
    id: str
    received_at: datetime
    category: str
    deployment_id: str | None
    reference: str | None
    external_ref: str | None
    recorded_by: str
    outcome: str | None
    outcome_at: datetime | None

    @property
    def category_label(self) -> str:
        return COMPLAINT_CATEGORIES.get(self.category, self.category)

    def as_dict(self) -> dict[str, object]:
        out = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}
        out["category_label"] = self.category_label
        out["outcome_label"] = COMPLAINT_OUTCOMES.get(self.outcome or "", self.outcome)
        return out


def _info(c: Complaint) -> ComplaintInfo:
    return ComplaintInfo(
        c.id,
        c.received_at,
        c.category,
        c.deployment_id,
        c.engagement_reference,
        c.external_ref,
        c.recorded_by,
        c.outcome,
        c.outcome_at,
    )


def _aware(name: str, t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise GovernanceError(f"{name} needs a time zone (e.g. 2030-06-01T09:00Z)")
    return t


def record_complaint(
    store: Store,
    actor: ActorLike,
    *,
    received_at: datetime,
    category: str,
    deployment_id: str | None = None,
    reference: str | None = None,
    external_ref: str | None = None,
    clock: Clock = utcnow,
) -> ComplaintInfo:
    """Enter a complaint in the register (audited). A quoted stopped person's reference links it to the
    encounter's deployment; a deployment given as well must be the same one."""
    now = clock()
    received_at = _aware("the date received", received_at)
    if received_at > now:
        raise GovernanceError(f"the complaint's date received {received_at.isoformat()} is in the future")
    key = parse_choice(category, COMPLAINT_CATEGORIES, "complaint category")
    ref = parse_reference(reference) if reference and reference.strip() else None
    ext = (external_ref or "").strip() or None
    check_published_fields({"the force's complaint reference": ext})
    with store.session() as s:
        dep_id = deployment_id.strip() if deployment_id and deployment_id.strip() else None
        if dep_id is not None:
            load(s, dep_id)
        if ref is not None:
            alert_dep = s.scalar(select(Alert.deployment_id).where(Alert.engagement_reference == ref))
            if alert_dep is None:
                raise NotFound(f"no encounter has the reference {ref} (check it with the complainant)")
            if dep_id is not None and dep_id != alert_dep:
                raise GovernanceError(
                    f"reference {ref} belongs to deployment {alert_dep}, not {dep_id}: give one or the other"
                )
            dep_id = alert_dep
        c = Complaint(
            received_at=received_at,
            category=key,
            deployment_id=dep_id,
            engagement_reference=ref,
            external_ref=ext,
            recorded_at=now,
            recorded_by=str(as_actor(actor)),
        )
        s.add(c)
        s.flush()
        record(
            s,
            actor,
            "complaint.record",
            deployment_id=dep_id,
            target=c.id,
            at=now,
            details={
                "category": key,
                "received_at": received_at.isoformat(),
                "reference_given": ref is not None,
            },
        )
        return _info(c)


def record_complaint_outcome(
    store: Store,
    actor: ActorLike,
    complaint_id: str,
    outcome: str,
    *,
    at: datetime | None = None,
    clock: Clock = utcnow,
) -> ComplaintInfo:
    """Close a complaint with its outcome (once; audited)."""
    now = clock()
    when = _aware("the outcome date", at) if at is not None else now
    key = parse_choice(outcome, COMPLAINT_OUTCOMES, "complaint outcome")
    with store.session() as s:
        c = s.get(Complaint, complaint_id)
        if c is None:
            raise NotFound(f"no complaint with id {complaint_id!r}")
        if c.outcome is not None:
            raise GovernanceError(f"complaint {c.id} already has its outcome ({c.outcome})")
        if when < c.received_at or when > now:
            raise GovernanceError(
                f"the outcome date {when.isoformat()} must fall between the complaint's receipt and now"
            )
        c.outcome, c.outcome_at, c.outcome_by = key, when, str(as_actor(actor))
        record(
            s,
            actor,
            "complaint.outcome",
            deployment_id=c.deployment_id,
            target=c.id,
            at=now,
            details={"outcome": key, "outcome_at": when.isoformat()},
        )
        return _info(c)


def list_complaints(store: Store, *, open_only: bool = False) -> list[ComplaintInfo]:
    with store.session() as s:
        q = select(Complaint).order_by(Complaint.received_at, Complaint.id)
        if open_only:
            q = q.where(Complaint.outcome.is_(None))
        return [_info(c) for c in s.scalars(q)]


def complaint_counts(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    deployment_id: str | None = None,
) -> dict[str, object]:
    """Complaints received (in ``[since, until)``, or about one deployment): the total, by category and by
    outcome in words ("open" while undecided). Counts only: no id, no reference, no date of any one."""
    with store.session() as s:
        q = select(Complaint.category, Complaint.outcome, func.count()).group_by(
            Complaint.category, Complaint.outcome
        )
        if since is not None:
            q = q.where(Complaint.received_at >= since)
        if until is not None:
            q = q.where(Complaint.received_at < until)
        if deployment_id is not None:
            q = q.where(Complaint.deployment_id == deployment_id)
        rows = list(s.execute(q).tuples())
    by_category: dict[str, int] = {}
    by_outcome: dict[str, int] = {}
    for cat, outcome, n in rows:
        c = COMPLAINT_CATEGORIES.get(cat, cat)
        o = COMPLAINT_OUTCOMES.get(outcome, outcome) if outcome else "open"
        by_category[c] = by_category.get(c, 0) + int(n)
        by_outcome[o] = by_outcome.get(o, 0) + int(n)
    return {
        "complaints": sum(by_category.values()),
        "complaints_by_category": dict(sorted(by_category.items())) or None,
        "complaints_by_outcome": dict(sorted(by_outcome.items())) or None,
    }
