"""The public's side in the published record and the yearly totals (issue 27): outcomes in detail, the
objective and for whom the deployment ran, complaints, and subject requests. Counts and published text only:
no custody reference, no stopped person's reference, no complaint id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openlfr.governance.complaints import complaint_counts
from openlfr.governance.outcomes import OTHER_OFFENCES
from openlfr.governance.subject_access import request_counts
from openlfr.store import Store
from openlfr.store.models import Alert, Deployment


def outcome_counts(alerts: Sequence[Alert]) -> dict[str, Any]:
    """What the disposals were in detail."""
    arrests = [a for a in alerts if a.disposal == "arrest"]
    disposed = [a for a in alerts if a.disposal is not None]
    offences: dict[str, int] = {}
    for a in arrests:
        for o in a.other_offences or ():
            label = OTHER_OFFENCES.get(o, o)
            offences[label] = offences.get(label, 0) + 1
    return {
        "arrests_for_watchlist_reason": sum(1 for a in arrests if a.arrest_for_watchlist_reason is True),
        "arrests_with_other_offences": sum(1 for a in arrests if a.other_offences),
        "arrests_for_other_offences_only": sum(
            1 for a in arrests if a.arrest_for_watchlist_reason is False and a.other_offences
        ),
        "arrests_other_offences": dict(sorted(offences.items())) or None,
        "disposals_with_force": sum(1 for a in disposed if a.use_of_force is True),
        "disposals_without_force": sum(1 for a in disposed if a.use_of_force is False),
        "disposals_force_not_recorded": sum(1 for a in disposed if a.use_of_force is None),
    }


def objective_section(dep: Deployment, rec: dict[str, Any]) -> dict[str, Any]:
    """The stated objective and success measures, with the outcomes set beside them, and the force the
    deployment ran for with both data controllers. ``rec`` is the record so far (its counts)."""
    return {
        "objective": dep.objective,
        "success_measures": list(dep.success_measures or []) or None,
        "outcomes_against_objective": (
            f"{rec['arrests']} arrest(s) ({rec['arrests_for_watchlist_reason']} for the watchlist reason), "
            f"{rec['true_alerts']} true and {rec['false_alerts']} false alert(s) from {rec['faces_seen']:,} "
            f"faces seen, {rec['engagements']} engagement(s)"
            if dep.objective or dep.success_measures
            else None
        ),
        "run_on_behalf_of": dep.on_behalf_of,
        "data_controller_of_that_force": dep.on_behalf_of_controller,
    }


def deployment_section(dep: Deployment, alerts: Sequence[Alert], rec: dict[str, Any]) -> dict[str, Any]:
    """What issue 27 adds to one deployment's record from its own rows (complaints: :func:`complaint_counts`
    with ``deployment_id``, read after the record's session)."""
    out = outcome_counts(alerts)
    out.update(objective_section(dep, {**rec, **out}))
    return out


RECORD_FIELDS: list[tuple[str, str]] = [
    ("objective", "Objective"),
    ("success_measures", "Success measures"),
    ("outcomes_against_objective", "Outcomes against the objective"),
    ("run_on_behalf_of", "Run on behalf of"),
    ("data_controller_of_that_force", "That force's data controller"),
    ("arrests_for_watchlist_reason", "Arrests for the watchlist reason"),
    ("arrests_with_other_offences", "Arrests that included other offences"),
    ("arrests_for_other_offences_only", "Arrests for other offences only"),
    ("arrests_other_offences", "Other offences arrested for"),
    ("disposals_with_force", "Engagements where force was used"),
    ("disposals_without_force", "Engagements without force"),
    ("disposals_force_not_recorded", "Engagements with use of force not recorded"),
    ("complaints", "Complaints about this deployment"),
    ("complaints_by_category", "Complaints by category"),
    ("complaints_by_outcome", "Complaints by outcome"),
]

_SUMMED = (
    "arrests_for_watchlist_reason",
    "arrests_with_other_offences",
    "arrests_for_other_offences_only",
    "disposals_with_force",
    "disposals_without_force",
    "disposals_force_not_recorded",
)


def period_section(
    store: Store, start: datetime, end: datetime, recs: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """What issue 27 adds to the totals over ``[start, end)``: the outcome detail summed over the period's
    deployments, complaints received and subject requests handled in the period (counts only)."""
    out: dict[str, Any] = {key: sum(int(r.get(key) or 0) for r in recs) for key in _SUMMED}
    offences: dict[str, int] = {}
    for r in recs:
        for k, v in (r.get("arrests_other_offences") or {}).items():
            offences[k] = offences.get(k, 0) + int(v)
    out["arrests_other_offences"] = dict(sorted(offences.items())) or None
    out["deployments_on_behalf_of_another_force"] = sum(1 for r in recs if r.get("run_on_behalf_of"))
    out.update(complaint_counts(store, since=start, until=end))
    requests = request_counts(store, start, end)
    out["subject_access_requests_answered"] = requests["access_answered"]
    out["subject_access_requests_nothing_held"] = requests["access_not_found"]
    out["erasure_requests_erased"] = requests["erasure_erased"]
    out["erasure_requests_refused"] = requests["erasure_refused"]
    out["erasure_requests_nothing_held"] = requests["erasure_not_found"]
    return out


PERIOD_FIELDS: list[tuple[str, str]] = [
    ("arrests_for_watchlist_reason", "Arrests for the watchlist reason"),
    ("arrests_with_other_offences", "Arrests that included other offences"),
    ("arrests_for_other_offences_only", "Arrests for other offences only"),
    ("arrests_other_offences", "Other offences arrested for"),
    ("disposals_with_force", "Engagements where force was used"),
    ("disposals_without_force", "Engagements without force"),
    ("disposals_force_not_recorded", "Engagements with use of force not recorded"),
    ("deployments_on_behalf_of_another_force", "Deployments run on behalf of another force"),
    ("complaints", "Complaints received"),
    ("complaints_by_category", "Complaints by category"),
    ("complaints_by_outcome", "Complaints by outcome"),
    ("subject_access_requests_answered", "Subject access requests answered"),
    ("subject_access_requests_nothing_held", "Subject access requests where nothing was held"),
    ("erasure_requests_erased", "Erasure requests: erased"),
    ("erasure_requests_refused", "Erasure requests: refused (legal exemption)"),
    ("erasure_requests_nothing_held", "Erasure requests where nothing was held"),
]
