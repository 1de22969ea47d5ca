"""Deployments: create, open and close, and the window rule (rules 1, 2 and 5).

A deployment moves only forward: planned -> open -> closed. Opening checks the threshold against the
pack's validated minimum (rule 2); closing destroys the watchlist, its images and its key (rule 5).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from openlfr.governance.audit import SYSTEM, ActorLike, as_actor, record
from openlfr.governance.blob_sweep import sweep_blobs
from openlfr.governance.categories import parse_choice
from openlfr.governance.errors import GovernanceError, NotFound, ScanRefused
from openlfr.governance.live_contract import ScanWindow
from openlfr.matching.calibration import CalibrationError, load_calibration
from openlfr.matching.reference_crowd import load_reference_crowd
from openlfr.ranks import BY_KEY as RANKS_BY_KEY
from openlfr.ranks import parse_rank
from openlfr.safetext import UnsafeText, check_published_text
from openlfr.store import Store, utcnow
from openlfr.store.auth_models import User
from openlfr.store.models import (
    DEPLOYMENT_PHASES,
    DEPLOYMENT_PURPOSE_CATEGORIES,
    PHASE_UNKNOWN,
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
    phase: str = PHASE_UNKNOWN
    """``trial`` or ``operational``; ``unknown`` only for a deployment recorded before revision 0007."""
    dpia_ref: str | None = None
    eia_ref: str | None = None
    policy_ref: str | None = None
    intelligence_case: str | None = None
    """Internal: never published."""
    data_controller: str | None = None
    public_contact: str | None = None
    short_notice_reason: str | None = None
    signage_in_place_at: datetime | None = None
    signage_in_place_by: str | None = None
    objective: str | None = None
    """Issue 27: what the deployment is meant to achieve (published; the record reports against it)."""
    success_measures: tuple[str, ...] = ()
    on_behalf_of: str | None = None
    """The force it is run for, when not the force running it; ``on_behalf_of_controller`` is theirs."""
    on_behalf_of_controller: str | None = None
    proposed_officer: str | None = None
    """Who planning proposed as authorising officer (internal); the authoriser is whoever opens it."""
    proposed_role: str | None = None
    authorised_by_user: str | None = None
    """Username of the user who opened, and so authorised, it (None: not yet open, or opened before 0012)."""
    authorised_rank: str | None = None

    @property
    def authorisation_bound(self) -> bool:
        """Whether the authoriser is a user of the user table (the one who opened it), not typed-in text."""
        return self.authorised_by_user is not None

    @property
    def short_notice(self) -> bool:
        """Announced less than the notice period ahead, under an audited override."""
        return self.short_notice_reason is not None

    @property
    def phase_label(self) -> str:
        """Trial or operational in words, as published (stated as unknown for old deployments)."""
        if self.phase in DEPLOYMENT_PHASES:
            return DEPLOYMENT_PHASES[self.phase]
        return "not recorded (deployment planned before this was asked)"

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
        out["phase_label"] = self.phase_label
        out["short_notice"] = self.short_notice
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
        phase=d.phase or PHASE_UNKNOWN,
        dpia_ref=d.dpia_ref,
        eia_ref=d.eia_ref,
        policy_ref=d.policy_ref,
        intelligence_case=d.intelligence_case,
        data_controller=d.data_controller,
        public_contact=d.public_contact,
        short_notice_reason=d.short_notice_reason,
        signage_in_place_at=d.signage_in_place_at,
        signage_in_place_by=d.signage_in_place_by,
        objective=d.objective,
        success_measures=tuple(d.success_measures or ()),
        on_behalf_of=d.on_behalf_of,
        on_behalf_of_controller=d.on_behalf_of_controller,
        proposed_officer=d.proposed_officer,
        proposed_role=d.proposed_role,
        authorised_by_user=d.authorised_by_user,
        authorised_rank=d.authorised_rank,
    )


def check_can_scan(dep: ScanWindow, camera_id: str, at: datetime) -> None:
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


def describe_rules(rules: Iterable[str | None]) -> str:
    """The offset rules of a watchlist's templates in words (for refusals and warnings)."""
    words = {
        None: "enrolled without the attraction check",
        "attractors": "given attractor offsets",
        "normalised": "given normalised offsets",
    }
    return " and ".join(sorted(words.get(r, f"given {r} offsets") for r in set(rules))) or "no templates"


def _threshold_problem(
    store: Store,
    pack: str,
    threshold: float,
    watchlist_size: int | None = None,
    offset_rules: Iterable[str | None] = (),
) -> tuple[float | None, str | None]:
    """(validated minimum or None, why an override reason is needed or None).

    ``offset_rules`` are the rules the watchlist's templates got at enrolment (``None`` for one enrolled
    without the check); the minimum is the one validated for them (``Calibration.minimum_for``; none given:
    the calibration's own rule). With ``watchlist_size``
    (at opening) the threshold must also meet ``governance.target_fpir`` for a watchlist of that size: a
    larger watchlist gives a passer-by more chances to match someone, so it needs a stricter threshold
    (``Calibration.threshold_for``)."""
    try:
        cal = load_calibration(pack, store.settings.data_dir)
    except CalibrationError as exc:
        return None, f"the calibration for pack {pack} cannot be read ({exc}); an override reason is required"
    if cal is None:
        return None, (
            f"no calibration exists for pack {pack}, so the threshold cannot be checked against a validated "
            "minimum; opening requires an override reason"
        )
    rules = set(offset_rules)
    minimum = cal.minimum_for(rules)
    if threshold < minimum:
        unchecked = (
            f" for a watchlist with templates {describe_rules(rules)}"
            if minimum > cal.validated_min_threshold
            else ""
        )
        return minimum, (
            f"threshold {threshold:.3f} is below pack {pack}'s validated minimum{unchecked} "
            f"{minimum:.3f}; an override reason is required"
        )
    if watchlist_size and cal.points:
        fpir = store.settings.governance.target_fpir
        try:
            needed = cal.threshold_for(fpir, watchlist_size)
        except CalibrationError as exc:
            return minimum, f"{exc}; an override reason is required"
        if threshold < needed:
            return minimum, (
                f"threshold {threshold:.3f} is below {needed:.3f}, the threshold pack {pack} needs for FPIR "
                f"{fpir:g} with a watchlist of {watchlist_size} (governance.target_fpir); an override "
                "reason is required"
            )
    return minimum, None


def enrolment_offset_rule(store: Store, pack: str) -> str | None:
    """The offset rule enrolment will give new templates of this pack: the reference crowd's, or ``None``
    when the attraction check cannot run (switched off, or no reference crowd in the data folder)."""
    if not store.settings.governance.attraction_check:
        return None
    try:
        crowd = load_reference_crowd(pack, store.settings.data_dir)
    except CalibrationError as exc:
        raise GovernanceError(str(exc)) from exc
    return crowd.rule if crowd is not None and crowd.size > 0 else None


def default_threshold(store: Store, pack: str) -> tuple[float, str]:
    """The threshold a new deployment of this pack gets when none is given, and why: the minimum validated
    for the watchlist it will actually have (its templates checked against the reference crowd when one is
    in the data folder, else unchecked), so that the default can be opened without an override."""
    try:
        cal = load_calibration(pack, store.settings.data_dir)
    except CalibrationError as exc:
        raise GovernanceError(str(exc)) from exc
    if cal is None:
        raise GovernanceError(f"no calibration exists for pack {pack}: give the threshold explicitly")
    rule = enrolment_offset_rule(store, pack)
    minimum = cal.minimum_for({rule})
    if rule is not None:
        return minimum, (
            f"the validated minimum of pack {pack} for a watchlist checked against the reference crowd "
            f"({rule} offsets)"
        )
    checked = cal.minimum_for({cal.offset_rule})
    why = (
        "the attraction check is switched off (governance.attraction_check)"
        if not store.settings.governance.attraction_check
        else "there is no reference crowd in the data folder (`openlfr calibration crowd --from DIR` builds one)"
    )
    return minimum, (
        f"the validated minimum of pack {pack} for a watchlist enrolled without the attraction check, as "
        f"{why}; with a checked watchlist it would be {checked:.3f}"
    )


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


def _notice(store: Store) -> timedelta:
    return timedelta(hours=store.settings.governance.notice_hours)


def check_published_fields(fields: dict[str, str | None]) -> None:
    """Refuse control and bidirectional formatting characters (NUL, U+202E, ...) in text that the
    deployment record, the public page or a CSV shows, naming the field (:mod:`openlfr.safetext`)."""
    for name, value in fields.items():
        try:
            check_published_text(name, value)
        except UnsafeText as exc:
            raise GovernanceError(str(exc)) from None


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


def _audit_short_notice(
    s: Session, who: ActorLike, dep: Deployment, reason: str, now: datetime, store: Store
) -> None:
    record(
        s,
        who,
        "deployment.short_notice",
        deployment_id=dep.id,
        at=now,
        details={
            "reason": reason,
            "notice_hours": store.settings.governance.notice_hours,
            "announced_at": dep.created_at.isoformat(),
            "starts_at": dep.starts_at.isoformat(),
        },
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


@dataclass(frozen=True)
class RetentionPromise:
    """How long a deployment's alerts are kept, fixed when it opens and published with its record (issue 25):
    the purge applies it, never the settings of whoever runs the purge."""

    alert_retention_hours: float
    max_adjudication_hours: float
    escalation_hours: float

    def as_dict(self) -> dict[str, float]:
        return {
            "alert_retention_hours": self.alert_retention_hours,
            "max_adjudication_hours": self.max_adjudication_hours,
            "escalation_hours": self.escalation_hours,
        }


def fix_retention_promise(dep: Deployment, store: Store) -> RetentionPromise:
    """Copy the configured retention periods into ``dep`` (at open; or, for a deployment opened before they
    were stored, at the first purge that meets it). A promise already fixed is never changed."""
    if (
        dep.alert_retention_hours is None
        or dep.max_adjudication_hours is None
        or dep.escalation_hours is None
    ):
        r = store.settings.retention
        dep.alert_retention_hours = r.alert_retention_hours
        dep.max_adjudication_hours = r.max_adjudication_hours
        dep.escalation_hours = r.escalation_hours
    return stored_retention_promise(dep)  # type: ignore[return-value]


def stored_retention_promise(dep: Deployment) -> RetentionPromise | None:
    """The promise fixed into ``dep`` (None: not opened yet, or opened before promises were stored)."""
    if (
        dep.alert_retention_hours is None
        or dep.max_adjudication_hours is None
        or dep.escalation_hours is None
    ):
        return None
    return RetentionPromise(dep.alert_retention_hours, dep.max_adjudication_hours, dep.escalation_hours)


def retention_promise_of(store: Store, deployment_id: str) -> RetentionPromise | None:
    """The retention promise stored with a deployment (None: not opened yet, or opened before 0013)."""
    with store.session() as s:
        return stored_retention_promise(load(s, deployment_id))


def _age_on(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def watchlist_age_counts(session: Session, dep: Deployment) -> tuple[int, int, int]:
    """(approved subjects, under 18 on the deployment's first day, date of birth unknown). Entries awaiting
    approval are never searched, so they are not counted in the watchlist (issue 24)."""
    dobs = list(
        session.scalars(
            select(WatchlistSubject.date_of_birth).where(
                WatchlistSubject.deployment_id == dep.id, WatchlistSubject.pending_approval.is_(False)
            )
        )
    )
    start = dep.starts_at.date()
    under = sum(1 for d in dobs if d is not None and _age_on(d, start) < 18)
    unknown = sum(1 for d in dobs if d is None)
    return len(dobs), under, unknown


def watchlist_composition(session: Session, deployment_id: str) -> dict[str, dict[str, int]]:
    """Counts of the watchlist's entries by category, image source and offence seriousness (keys as stored;
    ``None`` for entries recorded before those were asked is counted under "not stated")."""
    out: dict[str, dict[str, int]] = {}
    for name, column in (
        ("category", WatchlistSubject.category),
        ("image_source", WatchlistSubject.image_source),
        ("offence_seriousness", WatchlistSubject.offence_seriousness),
    ):
        rows = session.execute(
            select(column, func.count())
            .where(
                WatchlistSubject.deployment_id == deployment_id, WatchlistSubject.pending_approval.is_(False)
            )
            .group_by(column)
        ).tuples()
        out[name] = {str(k) if k is not None else "not stated": int(v) for k, v in rows}
    return out


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
        composition = watchlist_composition(s, dep.id)
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
        if dep.watchlist_composition_at_close is None:
            dep.watchlist_composition_at_close = composition
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
    sweep_blobs(store, who, trigger="close", deployment_id=deployment_id)
    return CloseResult(result_info, size, n_templates, deleted)
