"""Opening a deployment: the signage recorded first, the authoriser's rank checked against
``governance.min_authorising_rank`` (rule 8), the threshold checked again, and the retention promise fixed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import SYSTEM, ActorLike, as_actor, record
from openlfr.governance.deployment_checks import (
    _audit_short_notice,
    _notice,
    _threshold_problem,
    check_published_fields,
)
from openlfr.governance.deployments import Clock, DeploymentInfo, info, load
from openlfr.governance.errors import GovernanceError
from openlfr.governance.retention_promise import fix_retention_promise
from openlfr.ranks import BY_KEY as RANKS_BY_KEY
from openlfr.ranks import parse_rank
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import User
from openlfr.store.models import (
    WatchlistSubject,
    WatchlistTemplate,
)


def record_signage(
    store: Store, actor: ActorLike, deployment_id: str, *, note: str | None = None, clock: Clock = utcnow
) -> DeploymentInfo:
    """Record that the signs are up at the place (who, when): opening needs it (issue 15 §1)."""
    now = clock()
    who = as_actor(actor)
    if who == SYSTEM or who.name == "system":
        raise GovernanceError(
            "signage in place is recorded by the person who checked the signs, not the system"
        )
    with store.session() as s:
        dep = load(s, deployment_id, for_update=True)
        if dep.status != "planned":
            raise GovernanceError(
                f"deployment {dep.id} is {dep.status}: signage is recorded before a deployment opens"
            )
        dep.signage_in_place_at = now
        dep.signage_in_place_by = str(who)
        record(
            s,
            who,
            "deployment.signage_in_place",
            deployment_id=dep.id,
            at=now,
            details={"note": (note or "").strip() or None, "location": dep.location},
        )
        return info(dep)


@dataclass(frozen=True)
class Authoriser:
    """The user who opens a deployment, as the user table has them (issue 25, rule 8)."""

    username: str
    name: str
    rank_key: str
    rank_label: str


def check_authoriser(session: Session, store: Store, who: ActorLike) -> Authoriser:
    """The user behind ``who`` if they may authorise a deployment: an active user of the user table with a
    rank at or above ``governance.min_authorising_rank``; a :class:`GovernanceError` saying why not otherwise.

    Whoever opens a deployment authorises it: the name and rank come from the user table, never from text
    typed in at planning, so the published "authorised by" is the person who let the cameras scan."""
    actor = as_actor(who)
    minimum = parse_rank(store.settings.governance.min_authorising_rank)
    user = session.scalar(select(User).where(User.username == actor.name))
    if user is None or not user.active:
        raise GovernanceError(
            f"{actor.name!r} is not an active user: a deployment is opened, and so authorised, by a logged-in "
            "user whose rank an admin has recorded"
        )
    rank = RANKS_BY_KEY.get(user.rank or "")
    if rank is None:
        raise GovernanceError(
            f"{user.username} has no police rank recorded, and opening a deployment authorises it: an admin "
            f"records the rank first (openlfr user rank {user.username} RANK); at least {minimum.label} "
            "(governance.min_authorising_rank)"
        )
    if rank.level < minimum.level:
        raise GovernanceError(
            f"{user.username}'s rank is {rank.label}: opening a deployment authorises it, which needs the rank of "
            f"{minimum.label} or above (governance.min_authorising_rank)"
        )
    return Authoriser(user.username, user.display_name or user.username, rank.key, rank.label)


def open_deployment(
    store: Store,
    actor: ActorLike,
    deployment_id: str,
    *,
    override_reason: str | None = None,
    clock: Clock = utcnow,
    short_notice_reason: str | None = None,
) -> DeploymentInfo:
    """planned -> open. Rule 2: the threshold must be at or above the pack's validated minimum and the
    threshold calibrated for ``governance.target_fpir`` at the watchlist's actual size, or an override reason
    must be given (here or at creation); the override is audited. Issue 15: the watchlist may not be empty,
    the signage must be recorded in place, and the deployment must have been announced at least
    ``governance.notice_hours`` ago unless a short-notice reason is given (here or at creation).

    Issue 25: ``actor`` authorises the deployment by opening it; it must be a user of the user table with a
    rank at or above ``governance.min_authorising_rank`` (:func:`check_authoriser`), whose name and rank
    replace the officer proposed at planning. At least one watchlist entry must be approved (an entry awaiting
    its second person's approval is never searched, so a watchlist of only those would scan for nobody)."""
    now = clock()
    check_published_fields({"threshold override reason": override_reason})
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
        authoriser = check_authoriser(s, store, who)
        n_subjects = s.scalar(select(func.count()).where(WatchlistSubject.deployment_id == dep.id)) or 0
        n_approved = (
            s.scalar(
                select(func.count()).where(
                    WatchlistSubject.deployment_id == dep.id,
                    WatchlistSubject.pending_approval.is_(False),
                    WatchlistSubject.expires_at > now,
                )
            )
            or 0
        )
        short_reason = (short_notice_reason or "").strip() or None
        missing = []
        if n_subjects == 0:
            missing.append("its watchlist is empty (enrol at least one subject)")
        elif n_approved == 0:
            missing.append(
                "none of its watchlist entries is approved and in date: an entry is searched only once a "
                "second person has approved it (openlfr watchlist approve)"
            )
        if dep.signage_in_place_at is None:
            missing.append(
                "no one has recorded the signage in place (openlfr deployment signage-in-place ID)"
            )
        notice_ends = dep.created_at + _notice(store)
        if now < notice_ends and dep.short_notice_reason is None and short_reason is None:
            missing.append(
                f"it was announced at {dep.created_at.isoformat()}, less than the "
                f"{store.settings.governance.notice_hours:g}-hour notice period ago: it may open from "
                f"{notice_ends.isoformat()}, or with a short-notice reason"
            )
        if missing:
            raise GovernanceError(f"deployment {dep.id} cannot open: " + "; ".join(missing))
        rules = set(
            s.scalars(
                select(WatchlistTemplate.offset_rule)
                .where(WatchlistTemplate.deployment_id == dep.id)
                .distinct()
            )
        )
        validated_min, problem = _threshold_problem(store, dep.pack, dep.threshold, n_subjects, rules)
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
        if now < notice_ends and dep.short_notice_reason is None and short_reason is not None:
            dep.short_notice_reason = short_reason
            _audit_short_notice(s, who, dep, short_reason, now, store)
        dep.validated_min_threshold = validated_min
        dep.status = "open"
        dep.opened_at = now
        dep.opened_by = str(who)
        promise = fix_retention_promise(dep, store)
        dep.authorising_officer = authoriser.name
        dep.authorising_role = authoriser.rank_label
        dep.authorised_by_user = authoriser.username
        dep.authorised_rank = authoriser.rank_key
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
                "retention": promise.as_dict(),
                "watchlist_approved": n_approved,
                "authorised_by": authoriser.username,
                "authorising_officer": authoriser.name,
                "authorising_rank": authoriser.rank_key,
                "proposed_officer": dep.proposed_officer,
                "proposed_role": dep.proposed_role,
            },
        )
        return info(dep)
