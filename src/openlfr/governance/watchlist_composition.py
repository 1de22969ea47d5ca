"""A deployment's watchlist in numbers, for its public record and report: approved entries, those under 18
on its first day or of unknown age, and counts by category, image source and offence seriousness.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openlfr.store.models import (
    Deployment,
    WatchlistSubject,
)


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
