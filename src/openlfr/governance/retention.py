"""Retention (rule 4) and the purge: ``openlfr purge`` and the server's scheduled job.

One purge run, at the clock's ``now``:

1. closes deployments left open (or never opened) past their end, destroying their watchlists (rule 5);
2. deletes watchlist entries past their expiry, with their images;
3. purges alerts past their deployment's **retention promise**: the periods fixed into the deployment when
   it opened and published with its record (issue 25). The caller's settings are not read for them, so a
   shorter ``retention.alert_retention_hours`` in the environment of whoever runs the purge changes nothing.
   A purged alert's image blobs are deleted and the row keeps only what the published record counts
   (camera, times, score, threshold, decisions), not the subject, track or images. An alert held as
   evidence is kept until its hold lapses or is released. An **undecided** alert (never reviewed, or passed
   to engagement and not concluded) is never purged before a supervisor was told: it is escalated once it is
   ``max_adjudication_hours`` old or its retention period ends, whichever is first, and purged only if still
   undecided ``escalation_hours`` after that (issue 15 §5 bounds the keeping); an alert confirmed false keeps
   only its counts (its images go at the next run, whatever the period);
4. destroys the alerts key of a closed deployment once none of its alerts still holds images.

Every deletion is audited, one row per alert or subject, in the same transaction as the deletion, as the
actor who ran it: the logged-in user of ``openlfr purge``, or the server's scheduled purge's service identity
(:func:`service_identity`), never an anonymous ``system``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.config import Settings
from openlfr.governance.alerts import alert_state, forget_alert, under_adjudication
from openlfr.governance.audit import SERVICE_ROLE, Actor, ActorLike, record
from openlfr.governance.blob_sweep import sweep_blobs
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.retention_promise import (
    RetentionPromise,
    fix_retention_promise,
    stored_retention_promise,
)
from openlfr.store import Store, utcnow
from openlfr.store.models import Alert, Deployment, DeploymentKey, WatchlistSubject, WatchlistTemplate

Clock = Callable[[], datetime]


@dataclass
class PurgeReport:
    at: datetime
    deployments_closed: list[str] = field(default_factory=list)
    subjects_expired: int = 0
    alerts_purged: int = 0
    blobs_deleted: int = 0
    kept_as_evidence: list[str] = field(default_factory=list)
    kept_under_adjudication: list[str] = field(default_factory=list)
    alert_keys_destroyed: list[str] = field(default_factory=list)
    escalated: list[str] = field(default_factory=list)
    """Undecided past ``retention.max_adjudication_hours``: passed to a supervisor."""
    overdue_purged: list[str] = field(default_factory=list)
    """Still undecided ``retention.escalation_hours`` after escalation: purged."""
    confirmed_false_purged: list[str] = field(default_factory=list)
    evidence_lapsed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "deployments_closed": self.deployments_closed,
            "subjects_expired": self.subjects_expired,
            "alerts_purged": self.alerts_purged,
            "blobs_deleted": self.blobs_deleted,
            "kept_as_evidence": self.kept_as_evidence,
            "kept_under_adjudication": self.kept_under_adjudication,
            "alert_keys_destroyed": self.alert_keys_destroyed,
            "escalated": self.escalated,
            "overdue_purged": self.overdue_purged,
            "confirmed_false_purged": self.confirmed_false_purged,
            "evidence_lapsed": self.evidence_lapsed,
        }


def _purge_alert(
    store: Store,
    s: Session,
    actor: ActorLike,
    a: Alert,
    now: datetime,
    why: str,
    retention_hours: float,
    report: PurgeReport,
) -> None:
    """Delete an alert's images and personal data; the row keeps what the published record counts."""
    blobs = forget_alert(a)
    report.blobs_deleted += store.blobs.delete_many(a.deployment_id, blobs)
    record(
        s,
        actor,
        "alert.purge",
        deployment_id=a.deployment_id,
        target=a.id,
        at=now,
        details={
            "raised_at": a.raised_at.isoformat(),
            "retention_hours": retention_hours,
            "images_deleted": len(blobs),
            "reason": why,
        },
    )
    a.purged_at = now
    a.purge_reason = why
    report.alerts_purged += 1
    if why == "confirmed_false":
        report.confirmed_false_purged.append(a.id)
    elif why == "adjudication_overdue":
        report.overdue_purged.append(a.id)


def _bound_evidence_holds(
    s: Session, actor: ActorLike, now: datetime, review_days: float, report: PurgeReport
) -> None:
    """An evidence hold lapses at its review date unless renewed; a hold from before review dates existed
    (schema revision 0007) is given one, ``review_days`` from now."""
    for a in s.scalars(select(Alert).where(Alert.evidence_hold.is_(True), Alert.purged_at.is_(None))):
        if a.evidence_review_at is None:
            a.evidence_review_at = now + timedelta(days=review_days)
            record(
                s,
                actor,
                "alert.evidence_review_set",
                deployment_id=a.deployment_id,
                target=a.id,
                at=now,
                details={"review_at": a.evidence_review_at.isoformat(), "reason": "hold had no review date"},
            )
        elif a.evidence_review_at <= now:
            a.evidence_hold = False
            a.evidence_lapsed_at = now
            record(
                s,
                actor,
                "alert.evidence_lapse",
                deployment_id=a.deployment_id,
                target=a.id,
                at=now,
                details={"review_at": a.evidence_review_at.isoformat(), "held_for": a.evidence_reason},
            )
            report.evidence_lapsed.append(a.id)


def undecided(a: Alert) -> bool:
    """Nobody has decided on it yet: never reviewed, or passed to engagement and awaiting its outcome or
    disposal. (Found false, or a false alert by review, is decided.)"""
    if a.engagement == "confirmed_false":
        return False
    return a.review is None or under_adjudication(a)


def service_identity(settings: Settings) -> Actor:
    """Who the server's scheduled purge acts as (``retention.service_identity``, role ``service``)."""
    return Actor(settings.retention.service_identity, SERVICE_ROLE)


def _escalate(s: Session, actor: ActorLike, a: Alert, now: datetime, promise: RetentionPromise) -> None:
    a.escalated_at = now
    record(
        s,
        actor,
        "alert.escalate",
        deployment_id=a.deployment_id,
        target=a.id,
        at=now,
        details={
            "to": "supervisor",
            "raised_at": a.raised_at.isoformat(),
            "max_adjudication_hours": promise.max_adjudication_hours,
            "escalation_hours": promise.escalation_hours,
            "state": alert_state(a),
        },
    )


def _promises(s: Session, actor: ActorLike, store: Store, now: datetime) -> dict[str, RetentionPromise]:
    """Every opened deployment's stored promise; one opened before promises were stored gets the settings in
    force now, once (audited), and keeps them."""
    out: dict[str, RetentionPromise] = {}
    for dep in s.scalars(select(Deployment).where(Deployment.opened_at.is_not(None))):
        promise = stored_retention_promise(dep)
        if promise is None:
            promise = fix_retention_promise(dep, store)
            record(
                s,
                actor,
                "deployment.retention_fixed",
                deployment_id=dep.id,
                at=now,
                details={**promise.as_dict(), "reason": "opened before retention promises were stored"},
            )
        out[dep.id] = promise
    return out


def purge(store: Store, actor: ActorLike | None = None, *, clock: Clock = utcnow) -> PurgeReport:
    """One purge run (see the module's docstring), audited as ``actor``: the logged-in user of a manual
    purge, or by default the scheduled purge's service identity."""
    actor = actor if actor is not None else service_identity(store.settings)
    now = clock()
    report = PurgeReport(at=now)
    settings = store.settings.retention

    if settings.auto_close_ended_deployments:
        with store.session() as s:
            ended = list(
                s.scalars(
                    select(Deployment.id).where(
                        Deployment.status.in_(("planned", "open")), Deployment.ends_at <= now
                    )
                )
            )
        for dep_id in ended:
            close_deployment(
                store, actor, dep_id, reason="window ended: closed by the purge", clock=lambda: now
            )
            report.deployments_closed.append(dep_id)

    # Files are deleted before the commit: if the commit then failed, the next run finishes the job, and
    # data is never kept longer than its period because a transaction failed.
    with store.session() as s:
        expired = list(
            s.scalars(
                select(WatchlistSubject)
                .join(Deployment)
                .where(WatchlistSubject.expires_at <= now, Deployment.status != "closed")
            )
        )
        for subj in expired:
            blobs = list(
                s.scalars(select(WatchlistTemplate.image_blob).where(WatchlistTemplate.subject_pk == subj.id))
            )
            report.blobs_deleted += store.blobs.delete_many(subj.deployment_id, blobs)
            record(
                s,
                actor,
                "watchlist.expire",
                deployment_id=subj.deployment_id,
                target=subj.subject_id,
                at=now,
                details={"expired_at": subj.expires_at.isoformat(), "images_deleted": len(blobs)},
            )
            s.delete(subj)
            report.subjects_expired += 1

    # Each deployment's own promise, fixed when it opened: a shorter period in the caller's environment or
    # file changes nothing here (issue 25).
    with store.session() as s:
        _bound_evidence_holds(s, actor, now, settings.evidence_review_days, report)
        promises = _promises(s, actor, store, now)
        alerts = list(s.scalars(select(Alert).where(Alert.purged_at.is_(None)).order_by(Alert.seq)))
        for a in alerts:
            promise = promises.get(a.deployment_id)
            if promise is None:
                continue  # an alert of a deployment never opened: nothing promised, nothing purged
            retention_end = a.raised_at + timedelta(hours=promise.alert_retention_hours)
            if a.evidence_hold:
                if now >= retention_end:
                    report.kept_as_evidence.append(a.id)
                continue
            if a.engagement == "confirmed_false":
                # Found not to be the person sought: only the counts stay, whatever the retention period.
                why = "confirmed_false"
            elif undecided(a):
                # Nobody decided (including nobody reviewed it): a supervisor is told once it is overdue or
                # its period ends, whichever is first, and it is kept until the escalation period passed.
                escalate_from = a.raised_at + timedelta(
                    hours=min(promise.max_adjudication_hours, promise.alert_retention_hours)
                )
                if a.escalated_at is None:
                    if now >= escalate_from:
                        _escalate(s, actor, a, now, promise)
                        report.escalated.append(a.id)
                    if now >= retention_end:
                        report.kept_under_adjudication.append(a.id)
                    continue
                if now < a.escalated_at + timedelta(hours=promise.escalation_hours):
                    if now >= retention_end:
                        report.kept_under_adjudication.append(a.id)
                    continue
                why = "adjudication_overdue"
            elif now >= retention_end:
                why = "retention"
            else:
                continue
            _purge_alert(store, s, actor, a, now, why, promise.alert_retention_hours, report)
        if report.kept_as_evidence or report.kept_under_adjudication:
            record(
                s,
                actor,
                "alert.retention_kept",
                at=now,
                details={
                    "evidence": report.kept_as_evidence,
                    "under_adjudication": report.kept_under_adjudication,
                },
            )

    with store.session() as s:
        live_alerts = (
            select(func.count())
            .where(Alert.deployment_id == Deployment.id, Alert.purged_at.is_(None))
            .scalar_subquery()
        )
        closed = list(
            s.scalars(
                select(Deployment.id)
                .join(DeploymentKey, DeploymentKey.deployment_id == Deployment.id)
                .where(
                    Deployment.status == "closed",
                    DeploymentKey.purpose == "alerts",
                    DeploymentKey.wrapped_key.is_not(None),
                    live_alerts == 0,
                )
            )
        )
        for dep_id in closed:
            store.keys.destroy(s, dep_id, "alerts", now)
            record(
                s,
                actor,
                "deployment.alerts_key_destroyed",
                deployment_id=dep_id,
                at=now,
                details={"reason": "no alert of the closed deployment holds images any more"},
            )
            report.alert_keys_destroyed.append(dep_id)
    for dep_id in report.alert_keys_destroyed:
        store.blobs.delete_deployment(dep_id)

    sweep_blobs(store, actor, trigger="purge")
    with store.session() as s:
        record(s, actor, "purge.run", at=now, details=report.as_dict())
    return report
