"""A deployment's retention promise (issue 25): the alert retention, adjudication and escalation periods
fixed into it when it opens and published with its record; the purge applies them.
"""

from __future__ import annotations

from dataclasses import dataclass

from openlfr.governance.deployments import load
from openlfr.store import Store
from openlfr.store.models import (
    Deployment,
)


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
