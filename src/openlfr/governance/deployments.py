"""Deployments: create, open and close, and the window rule (rules 1, 2 and 5).

A deployment moves only forward: planned -> open -> closed. Opening checks the threshold against the
pack's validated minimum (rule 2); closing destroys the watchlist, its images and its key (rule 5).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.categories import parse_choice
from openlfr.governance.errors import GovernanceError, NotFound, ScanRefused
from openlfr.matching.calibration import CalibrationError, load_calibration
from openlfr.store import Store, utcnow
from openlfr.store.models import (
    DEPLOYMENT_PURPOSE_CATEGORIES,
    Alert,
    Deployment,
    WatchlistSubject,
    WatchlistTemplate,
)
from openlfr.vision import ModelPackError, get_pack

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment as the rest of the system sees it (no watchlist, no images)."""

    id: str
    purpose: str
    location: str
    authorising_officer: str
    """The officer's name: internal only (the published record and public page give :attr:`authorising_role`)."""
    purpose_category: str | None
    """A key of ``DEPLOYMENT_PURPOSE_CATEGORIES`` (None only for deployments recorded before it existed)."""
    legal_basis: str | None
    authorising_role: str | None
    pack: str
    threshold: float
    cameras: list[str]
    starts_at: datetime
    ends_at: datetime
    status: str
    threshold_override_reason: str | None
    validated_min_threshold: float | None
    created_at: datetime
    created_by: str
    opened_at: datetime | None
    opened_by: str | None
    closed_at: datetime | None
    closed_by: str | None

    def in_window(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    @property
    def purpose_category_label(self) -> str | None:
        """The purpose category in words, as published."""
        if self.purpose_category is None:
            return None
        return DEPLOYMENT_PURPOSE_CATEGORIES.get(self.purpose_category, self.purpose_category)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in self.__dict__.items():
            out[k] = v.isoformat() if isinstance(v, datetime) else v
        out["purpose_category_label"] = self.purpose_category_label
        return out


def info(d: Deployment) -> DeploymentInfo:
    return DeploymentInfo(
        id=d.id,
        purpose=d.purpose,
        location=d.location,
        authorising_officer=d.authorising_officer,
        purpose_category=d.purpose_category,
        legal_basis=d.legal_basis,
        authorising_role=d.authorising_role,
        pack=d.pack,
        threshold=d.threshold,
        cameras=list(d.cameras),
        starts_at=d.starts_at,
        ends_at=d.ends_at,
        status=d.status,
        threshold_override_reason=d.threshold_override_reason,
        validated_min_threshold=d.validated_min_threshold,
        created_at=d.created_at,
        created_by=d.created_by,
        opened_at=d.opened_at,
        opened_by=d.opened_by,
        closed_at=d.closed_at,
        closed_by=d.closed_by,
    )


def check_can_scan(dep: DeploymentInfo, camera_id: str, at: datetime) -> None:
    """Rule 1: only an open deployment, inside its window, and only its own cameras."""
    if dep.status != "open":
        raise ScanRefused(f"deployment {dep.id} is {dep.status}, not open: nothing may be scanned")
    if at < dep.starts_at:
        raise ScanRefused(
            f"deployment {dep.id} has not started: its window opens at {dep.starts_at:%Y-%m-%d %H:%M} UTC"
        )
    if at >= dep.ends_at:
        raise ScanRefused(f"deployment {dep.id}'s window ended at {dep.ends_at:%Y-%m-%d %H:%M} UTC")
    if camera_id not in dep.cameras:
        raise ScanRefused(
            f"camera {camera_id!r} is not one of deployment {dep.id}'s cameras ({', '.join(dep.cameras)})"
        )


def load(session: Session, deployment_id: str, *, for_update: bool = False) -> Deployment:
    q = select(Deployment).where(Deployment.id == deployment_id)
    if for_update:
        q = q.with_for_update()
    dep = session.scalars(q).first()
    if dep is None:
        raise NotFound(f"no deployment with id {deployment_id!r}")
    return dep


def get_deployment(store: Store, deployment_id: str) -> DeploymentInfo:
    with store.session() as s:
        return info(load(s, deployment_id))


def list_deployments(store: Store, status: str | None = None) -> list[DeploymentInfo]:
    with store.session() as s:
        q = select(Deployment).order_by(Deployment.starts_at, Deployment.id)
        if status:
            q = q.where(Deployment.status == status)
        return [info(d) for d in s.scalars(q)]


def parse_purpose_category(value: str) -> str:
    """A purpose category key from its key or its words (case-insensitive); anything else is refused."""
    return parse_choice(value, DEPLOYMENT_PURPOSE_CATEGORIES, "purpose category")


def _aware(name: str, t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise GovernanceError(f"{name} needs a time zone (e.g. 2025-06-01T09:00+01:00 or ...Z)")
    return t


def _threshold_problem(
    store: Store, pack: str, threshold: float, attraction_checked: bool = True
) -> tuple[float | None, str | None]:
    """(validated minimum or None, why an override reason is needed or None). ``attraction_checked`` is
    False when some template of the watchlist was enrolled without the attraction check, which the
    calibration's minimum may assume (``Calibration.minimum_for``)."""
    try:
        cal = load_calibration(pack, store.settings.data_dir)
    except CalibrationError as exc:
        return None, f"the calibration for pack {pack} cannot be read ({exc}); an override reason is required"
    if cal is None:
        return None, (
            f"no calibration exists for pack {pack}, so the threshold cannot be checked against a validated "
            "minimum; opening requires an override reason"
        )
    minimum = cal.minimum_for(attraction_checked)
    if threshold < minimum:
        unchecked = (
            " for a watchlist enrolled without the attraction check"
            if minimum > cal.validated_min_threshold
            else ""
        )
        return minimum, (
            f"threshold {threshold:.3f} is below pack {pack}'s validated minimum{unchecked} "
            f"{minimum:.3f}; an override reason is required"
        )
    return minimum, None


def create_deployment(
    store: Store,
    actor: ActorLike,
    *,
    purpose: str,
    purpose_category: str,
    legal_basis: str,
    location: str,
    starts_at: datetime,
    ends_at: datetime,
    authorising_officer: str,
    authorising_role: str,
    cameras: Sequence[str],
    pack: str | None = None,
    threshold: float | None = None,
    threshold_override_reason: str | None = None,
    clock: Clock = utcnow,
) -> DeploymentInfo:
    """Record a planned deployment (nothing can be scanned until it is opened).

    ``purpose_category`` (a key or the words of ``DEPLOYMENT_PURPOSE_CATEGORIES``), ``legal_basis`` (a short
    summary) and ``authorising_role`` (the authorising officer's rank or role, e.g. "Superintendent") are
    published with the deployment; ``authorising_officer`` (the name) is kept internal.
    """
    now = clock()
    who = as_actor(actor)
    for name, value in (
        ("purpose", purpose),
        ("location", location),
        ("authorising officer", authorising_officer),
        ("legal basis", legal_basis),
        ("rank or role for its authorising officer", authorising_role),
    ):
        if not value or not value.strip():
            raise GovernanceError(f"a deployment needs a {name}")
    category = parse_purpose_category(purpose_category or "")
    if authorising_role.strip().casefold() == authorising_officer.strip().casefold():
        raise GovernanceError(
            "the authorising officer's role is published: give a rank or role "
            "(e.g. Superintendent), not the officer's name"
        )
    starts_at, ends_at = _aware("start", starts_at), _aware("end", ends_at)
    if ends_at <= starts_at:
        raise GovernanceError(
            f"the deployment ends ({ends_at.isoformat()}) before it starts ({starts_at.isoformat()})"
        )
    if ends_at <= now:
        raise GovernanceError(f"the deployment's end {ends_at.isoformat()} is already past")
    max_hours = store.settings.governance.max_deployment_hours
    if ends_at - starts_at > timedelta(hours=max_hours):
        raise GovernanceError(
            f"a deployment may last at most {max_hours:g} hours (governance.max_deployment_hours); "
            f"this one lasts {(ends_at - starts_at).total_seconds() / 3600:.1f}"
        )
    cams = [c.strip() for c in cameras if c and c.strip()]
    if not cams:
        raise GovernanceError("a deployment needs at least one camera")
    if len(set(cams)) != len(cams):
        raise GovernanceError(f"camera ids repeat: {', '.join(cams)}")
    pack_name = pack or store.settings.vision.pack
    try:
        get_pack(pack_name)
    except ModelPackError as exc:
        raise GovernanceError(str(exc)) from exc
    if threshold is None:
        cal = load_calibration(pack_name, store.settings.data_dir)
        if cal is None:
            raise GovernanceError(
                f"no calibration exists for pack {pack_name}: give the threshold explicitly"
            )
        threshold = cal.validated_min_threshold
    if not -1.0 <= threshold <= 1.0:
        raise GovernanceError(f"threshold {threshold} is not a cosine similarity (-1..1)")
    reason = (threshold_override_reason or "").strip() or None
    validated_min, problem = _threshold_problem(store, pack_name, threshold)
    # Below a known validated minimum is refused now; with no calibration at all, opening asks for the reason.
    if problem and validated_min is not None and not reason:
        raise GovernanceError(problem)
    with store.session() as s:
        dep = Deployment(
            purpose=purpose.strip(),
            location=location.strip(),
            starts_at=starts_at,
            ends_at=ends_at,
            authorising_officer=authorising_officer.strip(),
            purpose_category=category,
            legal_basis=legal_basis.strip(),
            authorising_role=authorising_role.strip(),
            cameras=cams,
            pack=pack_name,
            threshold=float(threshold),
            threshold_override_reason=reason,
            status="planned",
            created_at=now,
            created_by=str(who),
        )
        s.add(dep)
        s.flush()
        store.keys.create(s, dep.id, "watchlist", now)
        store.keys.create(s, dep.id, "alerts", now)
        record(
            s,
            who,
            "deployment.create",
            deployment_id=dep.id,
            at=now,
            details={
                "purpose": dep.purpose,
                "location": dep.location,
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat(),
                "authorising_officer": dep.authorising_officer,
                "authorising_role": dep.authorising_role,
                "purpose_category": category,
                "legal_basis": dep.legal_basis,
                "cameras": cams,
                "pack": pack_name,
                "threshold": dep.threshold,
                "threshold_override_reason": reason,
            },
        )
        return info(dep)


def open_deployment(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    *,
    override_reason: str | None = None,
    clock: Clock = utcnow,
) -> DeploymentInfo:
    """planned -> open. Rule 2: the threshold must be at or above the pack's validated minimum, or an
    override reason must be given (here or at creation); the override is audited."""
    now = clock()
    who = as_actor(actor)
    with store.session() as s:
        dep = load(s, deployment_id, for_update=True)
        if dep.status != "planned":
            raise GovernanceError(
                f"deployment {dep.id} is {dep.status}: only a planned deployment can be opened"
            )
        if now >= dep.ends_at:
            raise GovernanceError(
                f"deployment {dep.id}'s window ended at {dep.ends_at.isoformat()}: it cannot open"
            )
        unchecked = s.scalar(
            select(func.count()).where(
                WatchlistTemplate.deployment_id == dep.id, WatchlistTemplate.attraction_offset.is_(None)
            )
        )
        validated_min, problem = _threshold_problem(store, dep.pack, dep.threshold, not unchecked)
        reason = (override_reason or "").strip() or dep.threshold_override_reason
        if problem:
            if not reason:
                raise GovernanceError(f"deployment {dep.id} cannot open: {problem} (--override-reason)")
            record(
                s,
                who,
                "deployment.threshold_override",
                deployment_id=dep.id,
                at=now,
                details={
                    "threshold": dep.threshold,
                    "validated_min_threshold": validated_min,
                    "pack": dep.pack,
                    "problem": problem,
                    "reason": reason,
                },
            )
            dep.threshold_override_reason = reason
        dep.validated_min_threshold = validated_min
        dep.status = "open"
        dep.opened_at = now
        dep.opened_by = str(who)
        n_subjects = s.scalar(select(func.count()).where(WatchlistSubject.deployment_id == dep.id)) or 0
        record(
            s,
            who,
            "deployment.open",
            deployment_id=dep.id,
            at=now,
            details={
                "threshold": dep.threshold,
                "validated_min_threshold": validated_min,
                "watchlist_size": n_subjects,
            },
        )
        return info(dep)


def _age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def watchlist_age_counts(session: Session, dep: Deployment) -> tuple[int, int, int]:
    """(subjects, under 18 on the deployment's first day, date of birth unknown)."""
    dobs = list(
        session.scalars(
            select(WatchlistSubject.date_of_birth).where(WatchlistSubject.deployment_id == dep.id)
        )
    )
    start = dep.starts_at.date()
    under = sum(1 for d in dobs if d is not None and _age_on(d, start) < 18)
    unknown = sum(1 for d in dobs if d is None)
    return len(dobs), under, unknown


@dataclass(frozen=True)
class CloseResult:
    deployment: DeploymentInfo
    subjects_destroyed: int
    templates_destroyed: int
    blobs_deleted: int


def close_deployment(
    store: Store, actor: ActorLike, deployment_id: str, *, reason: str | None = None, clock: Clock = utcnow
) -> CloseResult:
    """-> closed. Rule 5: the watchlist rows, their image blobs and the watchlist key are destroyed.

    Alerts stay (rule 4 keeps them for the retention period) under the separate alerts key, which the
    purge destroys once the last of them is gone.
    """
    now = clock()
    who = as_actor(actor)
    with store.session() as s:
        dep = load(s, deployment_id, for_update=True)
        if dep.status == "closed":
            raise GovernanceError(f"deployment {dep.id} is already closed")
        size, under, unknown = watchlist_age_counts(s, dep)
        blob_ids = list(
            s.scalars(select(WatchlistTemplate.image_blob).where(WatchlistTemplate.deployment_id == dep.id))
        )
        n_templates = len(blob_ids)
        s.execute(delete(WatchlistTemplate).where(WatchlistTemplate.deployment_id == dep.id))
        s.execute(delete(WatchlistSubject).where(WatchlistSubject.deployment_id == dep.id))
        store.keys.destroy(s, dep.id, "watchlist", now)
        live_alerts = (
            s.scalar(select(func.count()).where(Alert.deployment_id == dep.id, Alert.purged_at.is_(None)))
            or 0
        )
        if live_alerts == 0:
            store.keys.destroy(s, dep.id, "alerts", now)
        previous = dep.status
        dep.status = "closed"
        dep.closed_at = now
        dep.closed_by = str(who)
        dep.watchlist_size_at_close = size
        dep.watchlist_under_18_at_close = under
        dep.watchlist_dob_unknown_at_close = unknown
        record(
            s,
            who,
            "deployment.close",
            deployment_id=dep.id,
            at=now,
            details={
                "previous_status": previous,
                "reason": reason,
                "subjects_destroyed": size,
                "templates_destroyed": n_templates,
                "watchlist_key_destroyed": True,
                "alerts_key_destroyed": live_alerts == 0,
                "alerts_kept": live_alerts,
            },
        )
        result_info = info(dep)
    # Files go after the commit: had the transaction failed, rows would otherwise point at missing files.
    # The key is already destroyed, so any file a crash leaves behind is unreadable ciphertext.
    deleted = store.blobs.delete_many(deployment_id, blob_ids)
    return CloseResult(result_info, size, n_templates, deleted)
