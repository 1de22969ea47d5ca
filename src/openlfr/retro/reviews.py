"""RFR review: each reviewer records possible match / no match / inconclusive per candidate, and a
possible match is reported only when a second, different reviewer agrees; the case's results, the probe
image for a reviewer (audited), and the investigation's conclusion on a reported possible match.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from openlfr.governance import audit
from openlfr.governance.audit import ActorLike
from openlfr.governance.errors import NotFound
from openlfr.retro.candidates import (
    _flags_in,
)
from openlfr.retro.cases import (
    Clock,
    _case_label,
    _get_case,
    case_folder,
    require_enabled,
)
from openlfr.retro.media import RetroError
from openlfr.store import Store, utcnow
from openlfr.store.crypto import KeyDestroyed
from openlfr.store.models import (
    INVESTIGATION_OUTCOMES,
    REVIEW_DECISIONS,
    RetroCandidate,
    RetroCase,
    RetroDecision,
    RetroProbe,
)

# --- review ------------------------------------------------------------------------------------------

REPORTED = "reported possible match"


def candidate_status(decisions: Sequence[tuple[str, str]]) -> str:
    """From ``(reviewer, decision)`` pairs: ``reported`` (two reviewers said possible match),
    ``awaiting second review``, ``no match``, ``inconclusive``, ``disputed`` or ``not reviewed``."""
    if not decisions:
        return "not reviewed"
    kinds = [d for _, d in decisions]
    possible = {r for r, d in decisions if d == "possible_match"}
    if len(possible) >= 2 and len(set(kinds)) == 1:
        return REPORTED
    if len(set(kinds)) > 1:
        return "disputed"
    if kinds[0] == "possible_match":
        return "awaiting second review"
    return REVIEW_DECISIONS[kinds[0]]


def review_candidate(
    store: Store,
    candidate_id: str,
    decision: str,
    reviewer: ActorLike,
    note: str | None = None,
    *,
    clock: Clock = utcnow,
) -> str:
    """Record one reviewer's decision; returns the candidate's status after it."""
    require_enabled(store.settings, "rfr")
    key = decision.strip().lower().replace(" ", "_")
    if key not in REVIEW_DECISIONS:
        raise RetroError(f"unknown decision {decision!r}: use one of {', '.join(REVIEW_DECISIONS)}")
    who = audit.as_actor(reviewer)
    now = clock()
    try:
        with store.session() as s:
            c = s.get(RetroCandidate, candidate_id)
            if c is None:
                raise NotFound(f"no candidate {candidate_id!r}")
            probe = s.get(RetroProbe, c.probe_id)
            assert probe is not None
            case = s.get(RetroCase, probe.case_id)
            assert case is not None
            if case.purged_at is not None:
                raise RetroError(f"case {case.reference!r} was purged")

            def status_now() -> str:
                ds = s.execute(
                    select(RetroDecision.reviewer, RetroDecision.decision).where(
                        RetroDecision.candidate_id == c.id
                    )
                ).all()
                return candidate_status([(str(r), str(d)) for r, d in ds])

            before = status_now()
            s.add(
                RetroDecision(candidate_id=c.id, reviewer=str(who), decision=key, note=note, decided_at=now)
            )
            s.flush()
            status = status_now()
            audit.record(
                s,
                who,
                "retro.review",
                target=case.reference,
                details={
                    "candidate": c.id,
                    "record_id": c.record_id,
                    "decision": key,
                    "status": status,
                    # Counted once, in the published totals, when the second reviewer's agreement makes it so.
                    "newly_reported": status == REPORTED and before != REPORTED,
                    "crime_category": case.crime_category,
                    "note": note,
                },
                at=now,
            )
            return status
    except IntegrityError as exc:
        raise RetroError(
            f"{who} has already decided on candidate {candidate_id}: a second decision must come from another reviewer"
        ) from exc


def case_results(store: Store, reference: str, actor: ActorLike | None = None) -> dict[str, Any]:
    """A case's faces and candidate lists with each candidate's decisions and status (no images).
    ``reported`` lists only the possible matches two reviewers agreed on."""
    with store.session() as s:
        case = _get_case(s, reference)
        probes = s.scalars(
            select(RetroProbe)
            .where(RetroProbe.case_id == case.id)
            .order_by(RetroProbe.searched_at, RetroProbe.face_index)
        ).all()
        faces = []
        reported = []
        tids = s.scalars(
            select(RetroCandidate.template_id).where(RetroCandidate.probe_id.in_([p.id for p in probes]))
        ).all()
        flags = _flags_in(s, list(tids))
        for p in probes:
            cands = s.scalars(
                select(RetroCandidate).where(RetroCandidate.probe_id == p.id).order_by(RetroCandidate.rank)
            ).all()
            rows = []
            for c in cands:
                ds = s.execute(
                    select(RetroDecision.reviewer, RetroDecision.decision).where(
                        RetroDecision.candidate_id == c.id
                    )
                ).all()
                status = candidate_status([(str(r), str(d)) for r, d in ds])
                row = {
                    "id": c.id,
                    "record_id": c.record_id,
                    "score": round(c.score, 4),
                    "rank": c.rank,
                    "calibration": c.calibration,
                    "flags": list(flags.get(c.template_id, ())),
                    "decisions": [{"reviewer": r, "decision": d} for r, d in ds],
                    "status": status,
                    "investigation": c.investigation,
                }
                rows.append(row)
                if status == REPORTED:
                    reported.append({"probe_id": p.id, **row})
            faces.append(
                {
                    "probe_id": p.id,
                    "media": p.media_name,
                    "face_index": p.face_index,
                    "frame_index": p.frame_index,
                    "box": p.box,
                    "quality": round(p.quality_score, 3),
                    "searched_by": p.searched_by,
                    "searched_at": p.searched_at.isoformat(),
                    "reason": p.reason,
                    "provenance": p.provenance,
                    "all_faces_reason": p.all_faces_reason,
                    "candidates": rows,
                }
            )
        if actor is not None:
            audit.record(s, actor, "retro.case.view", target=reference, details={"faces": len(faces)})
    return {
        "case": reference,
        "reason": case.reason,
        "opened_by": case.opened_by,
        "crime_category": case.crime_category,
        "policy_ref": case.policy_ref,
        "dpia_ref": case.dpia_ref,
        "retain_until": case.retain_until.isoformat(),
        "faces": faces,
        "reported": reported,
    }


def probe_image(store: Store, probe_id: str, actor: ActorLike) -> bytes:
    """A probe's face crop (decrypted), audited."""
    with store.session() as s:
        p = s.get(RetroProbe, probe_id)
        if p is None or p.probe_blob is None:
            raise NotFound(f"no probe image {probe_id!r}")
        case = s.get(RetroCase, p.case_id)
        assert case is not None
        if case.wrapped_key is None:
            raise KeyDestroyed(f"case {case.reference!r} was purged")
        audit.record(s, actor, "retro.probe.read", target=case.reference, details={"probe": probe_id})
        blob, cid, wrapped = p.probe_blob, case.id, case.wrapped_key
    key = store.key_ring(_case_label(cid), wrapped)
    return store.blobs.get(case_folder(cid), blob, key)


def record_investigation(
    store: Store, candidate_id: str, outcome: str, actor: ActorLike, *, clock: Clock = utcnow
) -> str:
    """The investigation's conclusion on a reported possible match (confirmed / not confirmed); audited and
    counted in the published totals by the case's crime category."""
    key = outcome.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in INVESTIGATION_OUTCOMES:
        raise RetroError(f"unknown outcome {outcome!r}: use one of {', '.join(INVESTIGATION_OUTCOMES)}")
    who = audit.as_actor(actor)
    now = clock()
    with store.session() as s:
        c = s.get(RetroCandidate, candidate_id)
        if c is None:
            raise NotFound(f"no candidate {candidate_id!r}")
        probe = s.get(RetroProbe, c.probe_id)
        assert probe is not None
        case = s.get(RetroCase, probe.case_id)
        assert case is not None
        ds = s.execute(
            select(RetroDecision.reviewer, RetroDecision.decision).where(RetroDecision.candidate_id == c.id)
        ).all()
        if candidate_status([(str(r), str(d)) for r, d in ds]) != REPORTED:
            raise RetroError(
                "only a possible match reported by two reviewers can be confirmed by the investigation"
            )
        if c.investigation is not None:
            raise RetroError(f"the investigation's outcome is already recorded ({c.investigation})")
        c.investigation, c.investigation_by, c.investigation_at = key, str(who), now
        audit.record(
            s,
            who,
            "retro.investigation",
            target=case.reference,
            details={"candidate": c.id, "outcome": key, "crime_category": case.crime_category},
            at=now,
        )
    return INVESTIGATION_OUTCOMES[key]
