"""Deployments: the record as the rest of the system reads it (:class:`DeploymentInfo`), finding and
listing them, and the window rule (:func:`check_can_scan`).

A deployment moves only forward: planned -> open -> closed. Opening checks the threshold against the
pack's validated minimum (rule 2); closing destroys the watchlist, its images and its key (rule 5).
Each step has its own module beside this one: :mod:`~openlfr.governance.deployment_planning` (create),
:mod:`~openlfr.governance.deployment_checks` (what a plan must pass),
:mod:`~openlfr.governance.deployment_opening` (signage, the authoriser's rank, open),
:mod:`~openlfr.governance.retention_promise`, :mod:`~openlfr.governance.watchlist_composition` and
:mod:`~openlfr.governance.deployment_closing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.errors import NotFound, ScanRefused
from openlfr.governance.live_contract import ScanWindow
from openlfr.store import Store
from openlfr.store.models import (
    DEPLOYMENT_PHASES,
    DEPLOYMENT_PURPOSE_CATEGORIES,
    PHASE_UNKNOWN,
    Deployment,
)

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
