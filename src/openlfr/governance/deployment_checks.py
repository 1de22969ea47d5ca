"""The checks a deployment's plan must pass when it is created and again when it opens: the threshold
against the pack's validated minimum for the watchlist's templates (rule 2), the default threshold,
text that will be published, and the notice period (a short notice is audited).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from openlfr.governance.audit import ActorLike, record
from openlfr.governance.errors import GovernanceError
from openlfr.matching.calibration import CalibrationError, load_calibration
from openlfr.matching.reference_crowd import load_reference_crowd
from openlfr.safetext import UnsafeText, check_published_text
from openlfr.store import Store
from openlfr.store.models import (
    Deployment,
)


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
