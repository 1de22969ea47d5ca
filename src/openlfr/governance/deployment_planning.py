"""Planning a deployment: create it (status ``planned``) with its purpose, place, window, phase, threshold
and the published plan (success measures, controller), each checked and audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from openlfr.governance.audit import ActorLike, as_actor, record
from openlfr.governance.categories import parse_choice
from openlfr.governance.deployment_checks import (
    _audit_short_notice,
    _notice,
    _threshold_problem,
    check_published_fields,
    default_threshold,
)
from openlfr.governance.deployments import Clock, DeploymentInfo, info
from openlfr.governance.errors import GovernanceError
from openlfr.store import Store, utcnow
from openlfr.store.models import (
    DEPLOYMENT_PHASES,
    DEPLOYMENT_PURPOSE_CATEGORIES,
    Deployment,
)
from openlfr.vision import ModelPackError, get_pack


def parse_purpose_category(value: str) -> str:
    """A purpose category key from its key or its words (case-insensitive); anything else is refused."""
    return parse_choice(value, DEPLOYMENT_PURPOSE_CATEGORIES, "purpose category")


def _aware(name: str, t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise GovernanceError(f"{name} needs a time zone (e.g. 2025-06-01T09:00+01:00 or ...Z)")
    return t


def parse_phase(value: str | None) -> str:
    """``trial`` or ``operational`` (case-insensitive); anything else is refused naming the choices."""
    v = (value or "").strip().lower()
    if v in DEPLOYMENT_PHASES:
        return v
    given = f" {value!r}" if value and value.strip() else ""
    raise GovernanceError(
        f"a deployment must say whether it is a trial or operational (phase{given} is not one of "
        f"{', '.join(DEPLOYMENT_PHASES)})"
    )


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
    cameras: Sequence[str],
    authorising_officer: str | None = None,
    authorising_role: str | None = None,
    pack: str | None = None,
    threshold: float | None = None,
    threshold_override_reason: str | None = None,
    clock: Clock = utcnow,
    phase: str | None = None,
    dpia_ref: str | None = None,
    eia_ref: str | None = None,
    policy_ref: str | None = None,
    intelligence_case: str | None = None,
    data_controller: str | None = None,
    public_contact: str | None = None,
    short_notice_reason: str | None = None,
    objective: str | None = None,
    success_measures: Sequence[str] = (),
    on_behalf_of: str | None = None,
    on_behalf_of_controller: str | None = None,
) -> DeploymentInfo:
    """Record a planned deployment (nothing can be scanned until it is opened).

    Issue 15: ``phase`` (trial or operational), the references of the data protection impact assessment
    (``dpia_ref``), the equality impact assessment (``eia_ref``) and the policy document (``policy_ref``), the
    intelligence case for the place (``intelligence_case``, never published), the ``data_controller`` and
    the ``public_contact`` (defaults: ``server.data_controller`` and ``server.contact``) are all required.
    The deployment is announced (public page and feeds) from now; its start must be at least
    ``governance.notice_hours`` away unless a ``short_notice_reason`` is given (audited, published as
    "short notice").

    ``purpose_category`` (a key or the words of ``DEPLOYMENT_PURPOSE_CATEGORIES``) and ``legal_basis`` (a short
    summary) are published with the deployment. ``authorising_officer`` and ``authorising_role`` only
    *propose* an authorising officer (issue 25): whoever opens the deployment authorises it, and the record
    publishes their rank from the user table (:func:`open_deployment`).

    Issue 27: the stated ``objective`` and ``success_measures`` (published, and reported against in the
    record), and for a deployment run for another force, that force (``on_behalf_of``) and its data
    controller (``on_behalf_of_controller``), both required together.
    """
    now = clock()
    plan = plan_fields(objective, success_measures, on_behalf_of, on_behalf_of_controller)
    who = as_actor(actor)
    for name, value in (
        ("purpose", purpose),
        ("location", location),
        ("legal basis", legal_basis),
    ):
        if not value or not value.strip():
            raise GovernanceError(f"a deployment needs a {name}")
    proposed_officer = (authorising_officer or "").strip() or None
    proposed_role = (authorising_role or "").strip() or None
    check_published_fields(
        {
            "purpose": purpose,
            "location": location,
            "proposed authorising officer": authorising_officer,
            "legal basis": legal_basis,
            "proposed authorising officer's rank or role": authorising_role,
            "threshold override reason": threshold_override_reason,
            "data controller": data_controller,
            "public contact": public_contact,
            "DPIA reference": dpia_ref,
            "equality impact assessment reference": eia_ref,
            "policy document reference": policy_ref,
            **{f"camera id {c!r}": c for c in cameras},
        }
    )
    controller = (data_controller or store.settings.server.data_controller or "").strip()
    contact = (public_contact or store.settings.server.contact or "").strip()
    missing = [
        name
        for name, value in (
            ("the data protection impact assessment reference (dpia_ref)", dpia_ref),
            ("the equality impact assessment reference (eia_ref)", eia_ref),
            ("the policy document reference (policy_ref)", policy_ref),
            ("the intelligence case summary for the place (intelligence_case)", intelligence_case),
            ("the data controller (data_controller or server.data_controller)", controller),
            ("the public contact (public_contact or server.contact)", contact),
        )
        if not (value or "").strip()
    ]
    if missing:
        raise GovernanceError("a deployment cannot be created without " + "; ".join(missing))
    phase_key = parse_phase(phase)
    category = parse_purpose_category(purpose_category or "")
    if proposed_role and proposed_officer and proposed_role.casefold() == proposed_officer.casefold():
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
        threshold, _why = default_threshold(store, pack_name)
    if not -1.0 <= threshold <= 1.0:
        raise GovernanceError(f"threshold {threshold} is not a cosine similarity (-1..1)")
    short_reason = (short_notice_reason or "").strip() or None
    if starts_at < now + _notice(store) and short_reason is None:
        raise GovernanceError(
            f"the deployment starts {starts_at.isoformat()}, within the {store.settings.governance.notice_hours:g}"
            f"-hour notice period (governance.notice_hours): start at or after {(now + _notice(store)).isoformat()}"
            ", or give a short-notice reason (published as short notice)"
        )
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
            # Until it opens, the officer fields hold the proposal; opening overwrites them with the
            # authorising user's name and rank.
            authorising_officer=proposed_officer or "",
            purpose_category=category,
            legal_basis=legal_basis.strip(),
            authorising_role=proposed_role,
            proposed_officer=proposed_officer,
            proposed_role=proposed_role,
            cameras=cams,
            pack=pack_name,
            threshold=float(threshold),
            threshold_override_reason=reason,
            status="planned",
            created_at=now,
            created_by=str(who),
            phase=phase_key,
            dpia_ref=(dpia_ref or "").strip(),
            eia_ref=(eia_ref or "").strip(),
            policy_ref=(policy_ref or "").strip(),
            intelligence_case=(intelligence_case or "").strip(),
            data_controller=controller,
            public_contact=contact,
            short_notice_reason=short_reason,
            **plan,
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
                "proposed_officer": proposed_officer,
                "proposed_role": proposed_role,
                "purpose_category": category,
                "legal_basis": dep.legal_basis,
                "cameras": cams,
                "pack": pack_name,
                "threshold": dep.threshold,
                "threshold_override_reason": reason,
                "phase": phase_key,
                "dpia_ref": dep.dpia_ref,
                "eia_ref": dep.eia_ref,
                "policy_ref": dep.policy_ref,
                "intelligence_case": dep.intelligence_case,
                "data_controller": controller,
                "public_contact": contact,
                **plan,
            },
        )
        if short_reason is not None:
            _audit_short_notice(s, who, dep, short_reason, now, store)
        return info(dep)


MAX_SUCCESS_MEASURES = 10


def plan_fields(
    objective: str | None,
    success_measures: Sequence[str],
    on_behalf_of: str | None,
    on_behalf_of_controller: str | None,
) -> dict[str, Any]:
    """The planning fields of issue 27, checked: published text, at most ``MAX_SUCCESS_MEASURES``
    measures, and a deployment for another force names both the force and its data controller."""
    measures = [m.strip() for m in success_measures if m and m.strip()]
    if len(measures) > MAX_SUCCESS_MEASURES:
        raise GovernanceError(f"at most {MAX_SUCCESS_MEASURES} success measures (got {len(measures)})")
    force = (on_behalf_of or "").strip() or None
    controller = (on_behalf_of_controller or "").strip() or None
    if (force is None) != (controller is None):
        raise GovernanceError(
            "a deployment run on behalf of another force names both that force (on_behalf_of) and its data "
            "controller (on_behalf_of_controller): both controllers are published"
        )
    check_published_fields(
        {
            "objective": objective,
            "force it is run for": force,
            "that force's data controller": controller,
            **{f"success measure {i + 1}": m for i, m in enumerate(measures)},
        }
    )
    return {
        "objective": (objective or "").strip() or None,
        "success_measures": measures or None,
        "on_behalf_of": force,
        "on_behalf_of_controller": controller,
    }
