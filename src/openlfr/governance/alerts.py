"""Alerts and their adjudication by people (rules 2, 4, 6 and 7).

An alert records the probe crop, the scene crop and a copy of the matched reference image (encrypted
under the deployment's alerts key), the candidate, the score and the threshold in force. People then
decide, in this order and each step once:

    raised -> operator review: ``false_alert`` | ``engage`` (passed to engagement)
           -> engagement outcome: ``confirmed_true`` | ``confirmed_false`` | ``not_engaged``
           -> disposal (after an engagement that met the person): ``arrest`` | ``advice`` | ``no_action``

The system never records a decision itself: every step needs a named person, and "system" is refused.
An alert passed to engagement and not yet concluded is under adjudication and is kept past its retention
period; so is one marked as evidence, until released.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import SYSTEM, ActorLike, as_actor, record
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.outcomes import OutcomeDetail, apply_outcome_detail
from openlfr.governance.references import assign_reference
from openlfr.store import Store, utcnow
from openlfr.store.models import Alert, AuditEntry

Clock = Callable[[], datetime]

REVIEWS = ("false_alert", "engage")
ENGAGEMENTS = ("confirmed_true", "confirmed_false", "not_engaged")
DISPOSALS = ("arrest", "advice", "no_action")
ImageKind = Literal["probe", "frame", "candidate"]


def alert_state(a: Alert) -> str:
    if a.disposal:
        return f"disposed:{a.disposal}"
    if a.engagement:
        return a.engagement
    if a.review == "false_alert":
        return "false_alert"
    if a.review == "engage":
        return "passed_to_engagement"
    return "raised"


def _state_filter(state: str) -> ColumnElement[bool]:
    """The SQL condition equivalent to ``alert_state(a) == state`` (or, for ``disposed``, any disposal), so
    that ``limit`` applies to the alerts in that state rather than to all alerts before filtering."""
    if state == "disposed":
        return Alert.disposal.is_not(None)
    if state.startswith("disposed:"):
        return Alert.disposal == state.removeprefix("disposed:")
    no_disposal = Alert.disposal.is_(None)
    if state in ENGAGEMENTS:
        return and_(no_disposal, Alert.engagement == state)
    undecided = and_(no_disposal, Alert.engagement.is_(None))
    if state == "false_alert":
        return and_(undecided, Alert.review == "false_alert")
    if state == "passed_to_engagement":
        return and_(undecided, Alert.review == "engage")
    if state == "raised":
        return and_(undecided, or_(Alert.review.is_(None), Alert.review.not_in(REVIEWS)))
    return false()  # not a state any alert can be in: nothing matches, as before


def truth(a: Alert) -> bool | None:
    """What people established: True (confirmed true), False (false alert or confirmed false), None (not known)."""
    if a.engagement == "confirmed_true":
        return True
    if a.review == "false_alert" or a.engagement == "confirmed_false":
        return False
    return None


def forget_alert(a: Alert) -> list[str]:
    """Clear what an alert holds of the person (its image blobs' ids, the matched subject, the track, the
    template row and the custody or crime reference) and return the blob ids for the caller to delete. The
    row keeps what the published record counts. Shared by the retention purge and erasure, so the two can
    never forget different things."""
    blobs = [b for b in (a.probe_blob, a.frame_blob, a.candidate_blob) if b]
    a.probe_blob = a.frame_blob = a.candidate_blob = None
    a.subject_id = a.track_id = None
    a.template_index = None
    a.custody_reference = None
    return blobs


def under_adjudication(a: Alert) -> bool:
    """Passed to engagement and awaiting its outcome, or met in person and awaiting the disposal."""
    if a.review == "engage" and a.engagement is None:
        return True
    return a.engagement in ("confirmed_true", "confirmed_false") and a.disposal is None


@dataclass(frozen=True)
class AlertInfo:
    """An alert without its images (fetch those with :func:`alert_image`, which is audited)."""

    seq: int
    id: str
    deployment_id: str
    camera_id: str
    track_id: str | None
    subject_id: str | None
    category: str | None
    template_index: int | None
    score: float
    threshold: float
    observed_at: datetime
    raised_at: datetime
    state: str
    review: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    engagement: str | None
    engaged_by: str | None
    engaged_at: datetime | None
    disposal: str | None
    disposed_by: str | None
    disposed_at: datetime | None
    evidence_hold: bool
    evidence_reason: str | None
    purged_at: datetime | None
    has_images: bool
    reason_explained: bool | None = None
    leaflet_given: bool | None = None
    escalated_at: datetime | None = None
    evidence_review_at: datetime | None = None
    purge_reason: str | None = None
    reference: str | None = None
    """The stopped person's reference (issue 27), given when an officer met them."""
    use_of_force: bool | None = None
    arrest_for_watchlist_reason: bool | None = None
    other_offences: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def alert_info(a: Alert) -> AlertInfo:
    return AlertInfo(
        seq=a.seq,
        id=a.id,
        deployment_id=a.deployment_id,
        camera_id=a.camera_id,
        track_id=a.track_id,
        subject_id=a.subject_id,
        category=a.category,
        template_index=a.template_index,
        score=a.score,
        threshold=a.threshold,
        observed_at=a.observed_at,
        raised_at=a.raised_at,
        state=alert_state(a),
        review=a.review,
        reviewed_by=a.reviewed_by,
        reviewed_at=a.reviewed_at,
        engagement=a.engagement,
        engaged_by=a.engaged_by,
        engaged_at=a.engaged_at,
        disposal=a.disposal,
        disposed_by=a.disposed_by,
        disposed_at=a.disposed_at,
        evidence_hold=a.evidence_hold,
        evidence_reason=a.evidence_reason,
        purged_at=a.purged_at,
        has_images=a.purged_at is None and a.probe_blob is not None,
        reason_explained=a.reason_explained,
        leaflet_given=a.leaflet_given,
        escalated_at=a.escalated_at,
        evidence_review_at=a.evidence_review_at,
        purge_reason=a.purge_reason,
        reference=a.engagement_reference,
        use_of_force=a.use_of_force,
        arrest_for_watchlist_reason=a.arrest_for_watchlist_reason,
        other_offences=tuple(a.other_offences or ()),
    )


def list_alerts(
    store: Store,
    deployment_id: str | None = None,
    *,
    after_seq: int | None = None,
    since: datetime | None = None,
    state: str | None = None,
    limit: int | None = None,
) -> list[AlertInfo]:
    """Alerts oldest first; ``after_seq`` returns only those raised after the alert with that ``seq``
    (poll with the last ``seq`` seen to get new alerts), ``since`` only those raised at or after a time,
    ``state`` only those in that state (``disposed`` matches every disposal); ``limit`` caps the result."""
    with store.session() as s:
        q = select(Alert).order_by(Alert.seq)
        if deployment_id:
            q = q.where(Alert.deployment_id == deployment_id)
        if after_seq is not None:
            q = q.where(Alert.seq > after_seq)
        if since is not None:
            q = q.where(Alert.raised_at >= since)
        if state:
            q = q.where(_state_filter(state))
        if limit:
            q = q.limit(limit)
        return [alert_info(a) for a in s.scalars(q)]


def _load(s: Session, alert_id: str) -> Alert:
    a = s.scalars(select(Alert).where(Alert.id == alert_id).with_for_update()).first()
    if a is None:
        raise NotFound(f"no alert with id {alert_id!r}")
    return a


def get_alert(store: Store, alert_id: str) -> AlertInfo:
    with store.session() as s:
        return alert_info(_load(s, alert_id))


def alert_image(
    store: Store, actor: ActorLike, alert_id: str, kind: ImageKind = "probe", *, clock: Clock = utcnow
) -> bytes:
    """The decrypted probe crop, scene crop or matched reference image of an alert (audited: rule 6)."""
    with store.session() as s:
        a = _load(s, alert_id)
        if a.purged_at is not None:
            raise GovernanceError(f"alert {alert_id}'s images were purged at {a.purged_at.isoformat()}")
        blob = {"probe": a.probe_blob, "frame": a.frame_blob, "candidate": a.candidate_blob}[kind]
        if blob is None:
            raise NotFound(f"alert {alert_id} has no {kind} image")
        key = store.keys.get(s, a.deployment_id, "alerts")
        data = store.blobs.get(a.deployment_id, blob, key)
        record(
            s,
            actor,
            "alert.image_read",
            deployment_id=a.deployment_id,
            target=a.id,
            at=clock(),
            details={"image": kind},
        )
        return data


def _person(actor: ActorLike) -> str:
    who = as_actor(actor)
    if who == SYSTEM or who.name == "system":
        raise GovernanceError("rule 7: only a person can adjudicate an alert, not the system")
    return str(who)


MET = ("confirmed_true", "confirmed_false")
"""Engagement outcomes in which an officer met the person (and so owed them the reason and the leaflet)."""


def _decide(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    step: str,
    value: str,
    note: str | None,
    clock: Clock,
    facts: dict[str, bool | None] | None = None,
    detail: OutcomeDetail | None = None,
) -> AlertInfo:
    who = _person(actor)
    extra: dict[str, object] = {}
    now = clock()
    with store.session() as s:
        a = _load(s, alert_id)
        state = alert_state(a)
        if step == "review":
            if value not in REVIEWS:
                raise GovernanceError(f"review must be one of {', '.join(REVIEWS)}, not {value!r}")
            if a.review is not None:
                raise GovernanceError(f"alert {a.id} was already reviewed ({a.review} by {a.reviewed_by})")
            a.review, a.reviewed_by, a.reviewed_at, a.review_note = value, who, now, note
        elif step == "engagement":
            if value not in ENGAGEMENTS:
                raise GovernanceError(
                    f"engagement outcome must be one of {', '.join(ENGAGEMENTS)}, not {value!r}"
                )
            if a.review != "engage":
                raise GovernanceError(
                    f"alert {a.id} is {state}: only an alert passed to engagement has an outcome"
                )
            if a.engagement is not None:
                raise GovernanceError(f"alert {a.id} already has an engagement outcome ({a.engagement})")
            facts = facts or {}
            if value in MET:
                missing = [
                    k.replace("_", " ") for k in ("reason_explained", "leaflet_given") if facts.get(k) is None
                ]
                if missing:
                    raise GovernanceError(
                        f"an engagement that met the person ({value.replace('_', ' ')}) must record whether "
                        + " and whether ".join(
                            {
                                "reason explained": "the reason for the stop was explained",
                                "leaflet given": "the leaflet was given",
                            }[m]
                            for m in missing
                        )
                        + " (yes or no)"
                    )
                a.reason_explained = bool(facts["reason_explained"])
                a.leaflet_given = bool(facts["leaflet_given"])
                extra["reference"] = assign_reference(s, a)
            elif any(v is not None for v in facts.values()):
                raise GovernanceError(
                    f"{value}: the person was not met, so there is no reason explained or leaflet given to record"
                )
            a.engagement, a.engaged_by, a.engaged_at, a.engagement_note = value, who, now, note
        elif step == "disposal":
            if value not in DISPOSALS:
                raise GovernanceError(f"disposal must be one of {', '.join(DISPOSALS)}, not {value!r}")
            if a.engagement not in ("confirmed_true", "confirmed_false"):
                raise GovernanceError(
                    f"alert {a.id} is {state}: a disposal follows an engagement that met the person "
                    "(confirmed true or confirmed false)"
                )
            if a.disposal is not None:
                raise GovernanceError(f"alert {a.id} already has a disposal ({a.disposal})")
            a.disposal, a.disposed_by, a.disposed_at, a.disposal_note = value, who, now, note
            extra = apply_outcome_detail(store, s, a, value, detail)
        else:  # pragma: no cover - internal
            raise ValueError(step)
        record(
            s,
            actor,
            f"alert.{step}",
            deployment_id=a.deployment_id,
            target=a.id,
            at=now,
            details={
                "decision": value,
                "note": note,
                "from_state": state,
                "to_state": alert_state(a),
                **({k: v for k, v in (facts or {}).items() if v is not None} if step == "engagement" else {}),
                **extra,
            },
        )
        return alert_info(a)


def review_alert(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    decision: str,
    *,
    note: str | None = None,
    clock: Clock = utcnow,
) -> AlertInfo:
    """Operator review: ``false_alert`` or ``engage`` (pass to the officers on the ground)."""
    return _decide(store, actor, alert_id, "review", decision, note, clock)


def record_engagement(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    outcome: str,
    *,
    note: str | None = None,
    clock: Clock = utcnow,
    reason_explained: bool | None = None,
    leaflet_given: bool | None = None,
) -> AlertInfo:
    """What the engaging officer found: ``confirmed_true``, ``confirmed_false`` or ``not_engaged``.

    When the person was met (confirmed true or false) the officer must also record, yes or no, whether the
    reason for the stop was explained and the leaflet given (issue 15 §4); the published record counts them.
    """
    facts = {"reason_explained": reason_explained, "leaflet_given": leaflet_given}
    return _decide(store, actor, alert_id, "engagement", outcome, note, clock, facts)


def record_disposal(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    disposal: str,
    *,
    note: str | None = None,
    clock: Clock = utcnow,
    detail: OutcomeDetail | None = None,
) -> AlertInfo:
    """What followed the engagement: ``arrest``, ``advice`` or ``no_action``, with its ``detail`` (use of
    force, arrest for the watchlist reason, other offences, custody or crime reference: issue 27)."""
    return _decide(store, actor, alert_id, "disposal", disposal, note, clock, detail=detail)


def _review_date(store: Store, now: datetime, review_at: datetime | None) -> datetime:
    if review_at is None:
        return now + timedelta(days=store.settings.retention.evidence_review_days)
    if review_at.tzinfo is None or review_at.utcoffset() is None:
        raise GovernanceError("the evidence review date needs a time zone (e.g. 2030-07-01T09:00Z)")
    if review_at <= now:
        raise GovernanceError(f"the evidence review date {review_at.isoformat()} is not in the future")
    return review_at


def hold_as_evidence(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    reason: str,
    *,
    clock: Clock = utcnow,
    review_at: datetime | None = None,
) -> AlertInfo:
    """Keep an alert past its retention period until released or until its review date (default
    ``retention.evidence_review_days`` ahead), when the hold lapses unless renewed (audited)."""
    who = _person(actor)
    if not reason or not reason.strip():
        raise GovernanceError("marking an alert as evidence needs a reason")
    now = clock()
    review = _review_date(store, now, review_at)
    with store.session() as s:
        a = _load(s, alert_id)
        if a.purged_at is not None:
            raise GovernanceError(f"alert {a.id} was already purged at {a.purged_at.isoformat()}")
        if a.evidence_hold:
            raise GovernanceError(f"alert {a.id} is already held as evidence ({a.evidence_reason})")
        a.evidence_hold, a.evidence_reason = True, reason.strip()
        a.evidence_review_at = review
        record(
            s,
            actor,
            "alert.evidence_hold",
            deployment_id=a.deployment_id,
            target=a.id,
            at=now,
            details={"reason": a.evidence_reason, "by": who, "review_at": review.isoformat()},
        )
        return alert_info(a)


def renew_evidence(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    reason: str,
    *,
    clock: Clock = utcnow,
    review_at: datetime | None = None,
) -> AlertInfo:
    """Renew an evidence hold to a new review date, with a reason (audited); unrenewed, it lapses."""
    who = _person(actor)
    if not reason or not reason.strip():
        raise GovernanceError("renewing an evidence hold needs a reason")
    now = clock()
    review = _review_date(store, now, review_at)
    with store.session() as s:
        a = _load(s, alert_id)
        if not a.evidence_hold:
            raise GovernanceError(f"alert {a.id} is not held as evidence (a lapsed hold cannot be renewed)")
        previous = a.evidence_review_at
        a.evidence_review_at = review
        a.evidence_renewals = (a.evidence_renewals or 0) + 1
        record(
            s,
            actor,
            "alert.evidence_renew",
            deployment_id=a.deployment_id,
            target=a.id,
            at=now,
            details={
                "reason": reason.strip(),
                "by": who,
                "previous_review_at": previous.isoformat() if previous else None,
                "review_at": review.isoformat(),
            },
        )
        return alert_info(a)


def release_evidence(
    store: Store, actor: ActorLike, alert_id: str, reason: str, *, clock: Clock = utcnow
) -> AlertInfo:
    """End an evidence hold: the alert is then purged with the next purge once past its period (audited)."""
    who = _person(actor)
    if not reason or not reason.strip():
        raise GovernanceError("releasing an alert from evidence needs a reason")
    now = clock()
    with store.session() as s:
        a = _load(s, alert_id)
        if not a.evidence_hold:
            raise GovernanceError(f"alert {a.id} is not held as evidence")
        a.evidence_hold = False
        record(
            s,
            actor,
            "alert.evidence_release",
            deployment_id=a.deployment_id,
            target=a.id,
            at=now,
            details={"reason": reason.strip(), "held_for": a.evidence_reason, "by": who},
        )
        return alert_info(a)


STEPS = {"review": REVIEWS, "engagement": ENGAGEMENTS, "disposal": DISPOSALS}
"""The decisions on an alert, in order, and the values each may take."""


def amend_decision(
    store: Store,
    actor: ActorLike,
    alert_id: str,
    step: str,
    value: str,
    reason: str,
    *,
    clock: Clock = utcnow,
    reason_explained: bool | None = None,
    leaflet_given: bool | None = None,
) -> AlertInfo:
    """A supervisor's amendment of a decision recorded in error (rule 7): a new audited decision.

    Nothing is rewritten silently: the alert takes the amended value, and the audit row ``alert.amend``
    keeps what was recorded before, by whom and when, beside the amendment's reason and author. The
    amended alert must stay coherent with the later decisions (a false alert cannot have an engagement, a
    person not met cannot have a disposal): amend those first. Whoever took the decision cannot amend it.
    """
    who = _person(actor)
    if not reason or not reason.strip():
        raise GovernanceError("an amendment needs a reason (what was recorded in error, and why)")
    if step not in STEPS:
        raise GovernanceError(f"the decision to amend must be one of {', '.join(STEPS)}, not {step!r}")
    if value not in STEPS[step]:
        raise GovernanceError(f"{step} must be one of {', '.join(STEPS[step])}, not {value!r}")
    now = clock()
    with store.session() as s:
        a = _load(s, alert_id)
        before_state = alert_state(a)
        current, by, at = {
            "review": (a.review, a.reviewed_by, a.reviewed_at),
            "engagement": (a.engagement, a.engaged_by, a.engaged_at),
            "disposal": (a.disposal, a.disposed_by, a.disposed_at),
        }[step]
        if current is None:
            raise GovernanceError(f"alert {a.id} has no {step} decision to amend")
        if current == value:
            raise GovernanceError(f"alert {a.id}'s {step} is already {value}: nothing to amend")
        if by == who:
            raise GovernanceError(
                f"{who} recorded this {step}: a decision is amended by a supervisor, not by its author"
            )
        facts: dict[str, bool | None] = {}
        if step == "review" and value == "false_alert" and a.engagement is not None:
            raise GovernanceError(
                f"alert {a.id} already has an engagement outcome ({a.engagement}): a false alert has none"
            )
        if step == "engagement":
            if value not in MET and a.disposal is not None:
                raise GovernanceError(
                    f"alert {a.id} has a disposal ({a.disposal}): {value} means the person was not met"
                )
            if value in MET and current not in MET:
                if reason_explained is None or leaflet_given is None:
                    raise GovernanceError(
                        f"an engagement that met the person ({value.replace('_', ' ')}) must record whether the reason for "
                        "the stop was explained and whether the leaflet was given (yes or no)"
                    )
                facts = {"reason_explained": reason_explained, "leaflet_given": leaflet_given}
                a.reason_explained, a.leaflet_given = reason_explained, leaflet_given
            elif value not in MET:
                a.reason_explained = a.leaflet_given = None
        if step == "review":
            a.review, a.reviewed_by, a.reviewed_at = value, who, now
        elif step == "engagement":
            a.engagement, a.engaged_by, a.engaged_at = value, who, now
        else:
            a.disposal, a.disposed_by, a.disposed_at = value, who, now
        record(
            s,
            actor,
            "alert.amend",
            deployment_id=a.deployment_id,
            target=a.id,
            at=now,
            details={
                "step": step,
                "from": current,
                "to": value,
                "reason": reason.strip(),
                "originally_by": by,
                "originally_at": at.isoformat() if at else None,
                "from_state": before_state,
                "to_state": alert_state(a),
                **facts,
            },
        )
        return alert_info(a)


def amendment_kind(step: str, old: str, new: str) -> str:
    """How the published record names a kind of amendment, e.g. ``engagement: confirmed true → not engaged``."""
    return f"{step}: {old.replace('_', ' ')} → {new.replace('_', ' ')}"


def amendments_by_kind(s: Session, deployment_id: str) -> dict[str, int]:
    """The deployment's amended decisions counted by kind, from the audit log (where each is recorded)."""
    counts: dict[str, int] = {}
    rows = s.scalars(
        select(AuditEntry.details).where(
            AuditEntry.deployment_id == deployment_id, AuditEntry.action == "alert.amend"
        )
    )
    for raw in rows:
        d = json.loads(raw)
        kind = amendment_kind(str(d.get("step")), str(d.get("from")), str(d.get("to")))
        counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items()))
