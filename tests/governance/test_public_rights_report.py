"""Outcome detail, stated objectives, deployments for another force and the complaints register in the
published record and the yearly totals (issue 27 §§2-4): counted, and nothing that identifies anyone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from openlfr.governance.alerts import get_alert, record_disposal, record_engagement, review_alert
from openlfr.governance.audit import entries
from openlfr.governance.complaints import list_complaints, record_complaint, record_complaint_outcome
from openlfr.governance.errors import GovernanceError
from openlfr.governance.outcomes import OutcomeDetail
from openlfr.governance.report import deployment_record, period_totals, record_csv, record_html
from openlfr.store.models import Alert
from tests.governance.live_setup import Live, make_live

PLAN = {
    "objective": "Arrest people wanted for violent offences in the city centre",
    "success_measures": ["arrests of wanted people", "no false alert leads to an arrest"],
    "on_behalf_of": "Humberside Police",
    "on_behalf_of_controller": "Chief Constable of Humberside Police",
}
CUSTODY = "HU/C/2030/000123"


@pytest.fixture
def live(store, make_deployment, clock) -> Live:  # type: ignore[no-untyped-def]
    return make_live(store, lambda **kw: make_deployment(**kw, **PLAN), clock)


def _met(live: Live, subject: int, track: str) -> str:
    alert_id = live.alert(subject=subject, track_id=track)
    review_alert(live.store, "olu (operator)", alert_id, "engage", clock=live.clock)
    record_engagement(
        live.store,
        "eve (engagement_officer)",
        alert_id,
        "confirmed_true",
        reason_explained=True,
        leaflet_given=True,
        clock=live.clock,
    )
    return alert_id


def test_outcomes_objectives_and_complaints_are_counted_without_ids(live: Live, make_deployment) -> None:  # type: ignore[no-untyped-def]
    store = live.store
    arrested, advised = _met(live, 0, "t1"), _met(live, 1, "t2")
    eo = "eve (engagement_officer)"
    with pytest.raises(GovernanceError, match="must name the other offence"):
        record_disposal(
            store, eo, arrested, "arrest", detail=OutcomeDetail(arrest_for_watchlist_reason=False)
        )
    with pytest.raises(GovernanceError, match="unknown offence 'jaywalking'"):
        record_disposal(store, eo, arrested, "arrest", detail=OutcomeDetail(other_offences=("jaywalking",)))
    with pytest.raises(GovernanceError, match="advice is not an arrest"):
        record_disposal(store, eo, advised, "advice", detail=OutcomeDetail(other_offences=("drugs",)))
    record_disposal(
        store,
        eo,
        arrested,
        "arrest",
        detail=OutcomeDetail(
            use_of_force=True,
            arrest_for_watchlist_reason=True,
            other_offences=("possession of weapons", "drugs"),
            custody_reference=CUSTODY,
        ),
        clock=live.clock,
    )
    record_disposal(store, eo, advised, "advice", detail=OutcomeDetail(use_of_force=False), clock=live.clock)
    a = get_alert(store, arrested)
    assert a.other_offences == ("drugs", "weapons") and a.use_of_force is True
    with store.session() as s:
        raw = s.scalars(select(Alert.custody_reference).where(Alert.id == arrested)).one()
    assert raw is not None and CUSTODY.encode() not in raw  # encrypted under the alerts key
    disposal_row = entries(store, action="alert.disposal")[0]
    assert CUSTODY not in disposal_row.details and json.loads(disposal_row.details)["custody_reference_given"]

    ref = a.reference
    assert ref is not None
    dpo = "dora (data_protection)"
    received = live.clock() - timedelta(hours=1)
    with pytest.raises(GovernanceError, match="belongs to deployment"):
        other = make_deployment()
        record_complaint(
            store,
            dpo,
            received_at=received,
            category="misidentification",
            deployment_id=other.id,
            reference=ref,
            clock=live.clock,
        )
    c = record_complaint(
        store,
        dpo,
        received_at=received,
        category="stop_or_conduct",
        reference=ref.lower(),
        external_ref="PSD-2030-0042",
        clock=live.clock,
    )
    assert c.deployment_id == live.deployment.id and c.reference == ref
    record_complaint(
        store,
        dpo,
        received_at=received + timedelta(minutes=30),
        category="The use of live facial recognition itself",
        clock=live.clock,
    )
    record_complaint_outcome(store, dpo, c.id, "partly upheld", clock=live.clock)
    with pytest.raises(GovernanceError, match="already has its outcome"):
        record_complaint_outcome(store, dpo, c.id, "upheld", clock=live.clock)
    assert [x.outcome for x in list_complaints(store)] == ["partly_upheld", None]

    rec = deployment_record(store, live.deployment.id, clock=live.clock)
    assert rec["objective"] == PLAN["objective"] and rec["success_measures"] == PLAN["success_measures"]
    assert (
        "2 arrest" not in rec["outcomes_against_objective"]
        and "1 arrest(s) (1 for the watchlist reason)" in rec["outcomes_against_objective"]
    )
    assert (rec["run_on_behalf_of"], rec["data_controller_of_that_force"]) == (
        PLAN["on_behalf_of"],
        PLAN["on_behalf_of_controller"],
    )
    assert rec["data_controller"] == "Chief Constable of Example Police"  # both controllers published
    assert rec["arrests_for_watchlist_reason"] == 1 and rec["arrests_with_other_offences"] == 1
    assert rec["arrests_other_offences"] == {"drug offence": 1, "possession of weapons": 1}
    assert (rec["disposals_with_force"], rec["disposals_without_force"]) == (1, 1)
    assert rec["complaints"] == 1 and rec["complaints_by_outcome"] == {"partly upheld": 1}

    year = datetime(2030, 1, 1, tzinfo=UTC)
    totals = period_totals(store, year, year.replace(year=2031), clock=live.clock)
    assert totals["complaints"] == 2
    assert totals["complaints_by_category"] == {
        "how the stop was carried out or officers' conduct": 1,
        "the use of live facial recognition itself": 1,
    }
    assert totals["complaints_by_outcome"] == {"open": 1, "partly upheld": 1}
    assert totals["arrests_for_watchlist_reason"] == 1 and totals["disposals_with_force"] == 1
    assert totals["deployments_on_behalf_of_another_force"] == 1
    # Counts only: no complaint id, no stopped person's reference, no custody reference, no force reference.
    for published in (json.dumps(totals), json.dumps(rec), record_csv(rec), record_html(rec)):
        for secret in (c.id, ref, CUSTODY, "PSD-2030-0042", arrested, advised):
            assert secret not in published, secret


def test_a_deployment_for_another_force_names_both_controllers(make_deployment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError, match="both that force"):
        make_deployment(on_behalf_of="Humberside Police")
    with pytest.raises(GovernanceError, match="success measure 1"):
        make_deployment(success_measures=["arrests\u202e"])
    d = make_deployment(**PLAN)
    assert d.on_behalf_of == "Humberside Police" and d.success_measures == tuple(PLAN["success_measures"])
