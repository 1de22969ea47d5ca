"""RFR cases: switching RFR and OIFR on and off, opening a case under a policy, DPIA and crime category,
and the end of a case: purged when its retention ends (after a supervisor's escalation when candidate lists
wait undecided) or closed early by its officer or a supervisor. Probe crops are encrypted under the case's
own key; a purge deletes its probes, lists and decisions, destroys the key and is audited. The case row
stays as the record (reference, reason, who, when).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openlfr.config import Settings
from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.categories import parse_choice
from openlfr.governance.errors import GovernanceError, NotFound
from openlfr.governance.retention import service_identity
from openlfr.retro.media import RetroError
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import Role
from openlfr.store.blobs import case_blob_folder
from openlfr.store.crypto import new_data_key
from openlfr.store.db import case_key_label
from openlfr.store.models import (
    CRIME_CATEGORIES,
    MEDIA_PROVENANCE,
    RetroCandidate,
    RetroCase,
    RetroDecision,
    RetroProbe,
)

Clock = Callable[[], datetime]

# --- switches ----------------------------------------------------------------------------------------


class UseSwitchedOff(RetroError):
    """RFR or OIFR is switched off in this force's settings: every path refuses with this message."""


def require_enabled(settings: Settings, use: str) -> None:
    """Refuse when ``use`` (``rfr`` or ``oifr``) is switched off (``[retro] rfr_enabled``/``oifr_enabled``)."""
    on = settings.retro.rfr_enabled if use == "rfr" else settings.retro.oifr_enabled
    if not on:
        what = (
            "Retrospective facial recognition (RFR)"
            if use == "rfr"
            else "Operator-initiated facial recognition (OIFR)"
        )
        raise UseSwitchedOff(
            f"{what} is switched off for this force ([retro] {use}_enabled = false): nothing was searched"
        )


# --- cases -------------------------------------------------------------------------------------------


_case_label = case_key_label


case_folder = case_blob_folder


@dataclass(frozen=True)
class CaseInfo:
    id: str
    reference: str
    reason: str
    opened_by: str
    opened_at: datetime
    retain_until: datetime
    purged_at: datetime | None
    policy_ref: str | None = None
    dpia_ref: str | None = None
    crime_category: str | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None


def _info(c: RetroCase) -> CaseInfo:
    return CaseInfo(
        c.id,
        c.reference,
        c.reason,
        c.opened_by,
        c.opened_at,
        c.retain_until,
        c.purged_at,
        c.policy_ref,
        c.dpia_ref,
        c.crime_category,
        c.closed_by,
        c.closed_at,
        c.close_reason,
    )


def need_reason(reason: str | None, what: str) -> str:
    if reason is None or not reason.strip():
        raise RetroError(f"{what} needs a reason (why this search is necessary and proportionate)")
    return reason.strip()


def _closed_choice(value: str | None, choices: dict[str, str], what: str) -> str:
    if value is None or not value.strip():
        raise RetroError(f"{what} is required: one of {', '.join(choices)}")
    try:
        return parse_choice(value, choices, what)
    except GovernanceError as exc:
        raise RetroError(str(exc)) from exc


def parse_crime_category(value: str | None) -> str:
    return _closed_choice(value, CRIME_CATEGORIES, "crime category")


def parse_provenance(value: str | None) -> str:
    return _closed_choice(value, MEDIA_PROVENANCE, "media provenance")


def open_case(
    store: Store,
    reference: str,
    reason: str,
    actor: ActorLike,
    *,
    crime_category: str | None,
    policy_ref: str | None = None,
    dpia_ref: str | None = None,
    clock: Clock = utcnow,
) -> CaseInfo:
    """Open a case under a policy and DPIA (``retro.policy_ref``/``dpia_ref`` when not named) and a crime
    category (closed list ``CRIME_CATEGORIES``, what the published totals count it under)."""
    require_enabled(store.settings, "rfr")
    reference = reference.strip()
    if not reference:
        raise RetroError("a case needs a reference")
    reason = need_reason(reason, "a case")
    category = parse_crime_category(crime_category)
    rs = store.settings.retro
    policy = (policy_ref or "").strip() or rs.policy_ref.strip()
    dpia = (dpia_ref or "").strip() or rs.dpia_ref.strip()
    if not policy or not dpia:
        raise RetroError(
            "a case needs the policy and the DPIA it is searched under: name them (--policy-ref, --dpia-ref) "
            "or set [retro] policy_ref and dpia_ref"
        )
    now = clock()
    with store.session() as s:
        if s.scalar(select(RetroCase).where(RetroCase.reference == reference)) is not None:
            raise RetroError(f"case {reference!r} already exists")
        c = RetroCase(
            reference=reference,
            reason=reason,
            opened_by=str(audit.as_actor(actor)),
            opened_at=now,
            retain_until=now + timedelta(days=rs.case_retention_days),
            policy_ref=policy[:200],
            dpia_ref=dpia[:200],
            crime_category=category,
        )
        s.add(c)
        s.flush()
        c.wrapped_key = store.keys.master.wrap(new_data_key(), _case_label(c.id))
        audit.record(
            s,
            actor,
            "retro.case.open",
            target=reference,
            details={"reason": reason, "crime_category": category, "policy_ref": policy, "dpia_ref": dpia},
            at=now,
        )
        return _info(c)


def _get_case(s: Any, reference: str) -> RetroCase:
    c = s.scalar(select(RetroCase).where(RetroCase.reference == reference))
    if c is None:
        raise NotFound(f"no case {reference!r} (open it first with `openlfr retro case open`)")
    if c.purged_at is not None or c.wrapped_key is None:
        if c.closed_at is not None:
            raise RetroError(f"case {reference!r} was closed and purged on {c.closed_at:%Y-%m-%d}")
        raise RetroError(f"case {reference!r} was purged at the end of its retention period")
    return c


def get_case(store: Store, reference: str) -> CaseInfo:
    with store.session() as s:
        c = s.scalar(select(RetroCase).where(RetroCase.reference == reference))
        if c is None:
            raise NotFound(f"no case {reference!r} (open it first with `openlfr retro case open`)")
        return _info(c)


def open_cases(store: Store) -> list[CaseInfo]:
    """Cases not yet closed or purged, oldest first (no images, no candidates)."""
    with store.session() as s:
        rows = s.scalars(
            select(RetroCase).where(RetroCase.purged_at.is_(None)).order_by(RetroCase.opened_at)
        ).all()
        return [_info(c) for c in rows]


# --- retention ---------------------------------------------------------------------------------------


def _undecided_probes(s: Session, case_id: str) -> int:
    """Probes of the case with a candidate list on which no reviewer has decided anything."""
    decided = (
        select(RetroCandidate.probe_id)
        .join(RetroDecision, RetroDecision.candidate_id == RetroCandidate.id)
        .join(RetroProbe, RetroProbe.id == RetroCandidate.probe_id)
        .where(RetroProbe.case_id == case_id)
    )
    q = (
        select(func.count(func.distinct(RetroCandidate.probe_id)))
        .join(RetroProbe, RetroProbe.id == RetroCandidate.probe_id)
        .where(RetroProbe.case_id == case_id, RetroCandidate.probe_id.not_in(decided))
    )
    return int(s.scalar(q) or 0)


def _purge(s: Any, store: Store, c: RetroCase, now: datetime) -> int:
    """Delete a case's probes, candidate lists and decisions and destroy its key; the case row stays as the
    record (reference, reason, who, when). Returns how many probes went. The caller audits."""
    probes = s.scalars(select(RetroProbe).where(RetroProbe.case_id == c.id)).all()
    ids = [p.id for p in probes]
    if ids:
        cand = select(RetroCandidate.id).where(RetroCandidate.probe_id.in_(ids))
        s.execute(delete(RetroDecision).where(RetroDecision.candidate_id.in_(cand)))
        s.execute(delete(RetroCandidate).where(RetroCandidate.probe_id.in_(ids)))
        s.execute(delete(RetroProbe).where(RetroProbe.id.in_(ids)))
    c.wrapped_key = None  # the key goes: any copy of a crop (backups included) is unreadable
    store.keys.destroy_generations(s, _case_label(c.id), now)  # and those rotations started
    c.purged_at = now
    return len(ids)


def purge_cases(store: Store, actor: ActorLike | None = None, *, clock: Clock = utcnow) -> list[str]:
    """Purge every case past its retention: probe crops, candidate lists, decisions and the case key.
    The case row stays as a record (reference, reason, who, when). Returns the references purged. Audited as
    ``actor``: the logged-in user of a manual purge, by default the scheduled purge's service identity."""
    actor = actor if actor is not None else service_identity(store.settings)
    now = clock()
    purged: list[str] = []
    with store.session() as s:
        due = s.scalars(
            select(RetroCase).where(RetroCase.purged_at.is_(None), RetroCase.retain_until <= now)
        ).all()
        for c in due:
            # Issue 25: a case with candidate lists nobody decided on goes to a supervisor first, and is
            # kept until the escalation period (fixed when escalated) has passed.
            waiting = _undecided_probes(s, c.id)
            if waiting and (c.escalation_ends_at is None or now < c.escalation_ends_at):
                if c.escalated_at is None:
                    c.escalated_at = now
                    c.escalation_ends_at = now + timedelta(hours=store.settings.retention.escalation_hours)
                    audit.record(
                        s,
                        actor,
                        "retro.case.escalate",
                        target=c.reference,
                        at=now,
                        details={
                            "to": "supervisor",
                            "undecided_probes": waiting,
                            "retain_until": c.retain_until.isoformat(),
                            "kept_until_at_least": c.escalation_ends_at.isoformat(),
                        },
                    )
                continue
            n = _purge(s, store, c, now)
            audit.record(
                s,
                actor,
                "retro.case.purge",
                target=c.reference,
                details={"probes": n, "undecided_probes": waiting},
                at=now,
            )
            purged.append(c.reference)
            store.blobs.delete_deployment(case_folder(c.id))
    return purged


def close_case(
    store: Store, reference: str, reason: str, actor: ActorLike, *, clock: Clock = utcnow
) -> CaseInfo:
    """Close a case before its retention ends: its probe crops, candidate lists, decisions and key are
    purged at once (audited). Only the officer who opened it, or a supervisor (authorising officer), may."""
    why = (reason or "").strip()
    if not why:
        raise RetroError("closing a case needs a reason (e.g. 'suspect charged', 'no further action')")
    who = audit.as_actor(actor)
    now = clock()
    with store.session() as s:
        c = _get_case(s, reference)
        opener = audit.as_actor(c.opened_by)
        if who.name != opener.name and who.role != Role.AUTHORISING_OFFICER.value:
            raise RetroError(
                f"only the officer who opened case {reference!r} ({opener.name}) or a supervisor "
                "(authorising officer) may close it"
            )
        n = _purge(s, store, c, now)
        c.closed_at, c.closed_by, c.close_reason = now, str(who), why
        audit.record(
            s, who, "retro.case.close", target=c.reference, details={"probes": n, "reason": why}, at=now
        )
        info = _info(c)
        folder = case_folder(c.id)
    store.blobs.delete_deployment(folder)
    return info
