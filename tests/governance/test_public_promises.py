"""Issue 15: what the public is promised, enforced. Each test fails on the code before the issue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from openlfr.governance.alerts import record_engagement, review_alert
from openlfr.governance.audit import entries
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_opening import open_deployment, record_signage
from openlfr.governance.deployments import list_deployments
from openlfr.governance.errors import GovernanceError
from openlfr.governance.report import (
    deployment_record,
    period_totals,
    record_html,
    write_period,
    write_record,
)
from openlfr.governance.watchlists import enrol_subject, list_subjects
from openlfr.matching.calibration import Calibration, ThresholdPoint, local_calibration_path, save_calibration
from tests.authorisers import authoriser
from tests.governance.faces import entry, lfw_people
from tests.governance.live_setup import Live, make_live


def _enrol(store, dep_id, clock, n=1, **kw) -> None:  # type: ignore[no-untyped-def]
    for person, images in lfw_people()[:n]:
        enrol_subject(store, "enroller", dep_id, entry(person, clock(), **kw), [images[0]], clock=clock)


def test_notice_period_before_opening(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError, match=r"within the 24-hour notice period.*short-notice reason"):
        make_deployment(short_notice_reason=None)
    with pytest.raises(GovernanceError, match="within the 24-hour notice period"):
        make_deployment(short_notice_reason="   ")  # a blank reason is no reason
    assert list_deployments(store) == []  # nothing half-made
    start = clock() + timedelta(hours=25)
    dep = make_deployment(short_notice_reason=None, starts_at=start, ends_at=start + timedelta(hours=4))
    assert not dep.short_notice
    _enrol(store, dep.id, clock)
    record_signage(store, "pc (officer)", dep.id, clock=clock)
    clock.advance(hours=23)
    with pytest.raises(GovernanceError, match="less than the 24-hour notice period ago"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    assert list_deployments(store)[0].status == "planned"
    clock.advance(hours=1)
    assert open_deployment(store, authoriser(store), dep.id, clock=clock).status == "open"
    assert not any(e.action == "deployment.short_notice" for e in entries(store))


def test_short_notice_override_is_audited_and_published(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment(short_notice_reason="missing child at risk, last seen here")
    assert dep.short_notice and dep.as_dict()["short_notice"] is True
    audited = [e for e in entries(store, deployment_id=dep.id) if e.action == "deployment.short_notice"]
    assert json.loads(audited[0].details)["reason"] == "missing child at risk, last seen here"
    assert deployment_record(store, dep.id)["short_notice"] is True


def test_opening_needs_signage_and_a_watchlist_named_together(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    with pytest.raises(GovernanceError, match=r"watchlist is empty.*signage in place"):
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    _enrol(store, dep.id, clock)
    with pytest.raises(GovernanceError, match="signage") as exc:
        open_deployment(store, authoriser(store), dep.id, clock=clock)
    assert "watchlist is empty" not in str(exc.value)
    with pytest.raises(GovernanceError, match="not the system"):
        record_signage(store, "system", dep.id, clock=clock)
    signed = record_signage(store, "pc (officer)", dep.id, clock=clock)
    assert signed.signage_in_place_by == "pc (officer)" and signed.signage_in_place_at == clock()
    assert open_deployment(store, authoriser(store), dep.id, clock=clock).status == "open"
    assert deployment_record(store, dep.id)["signage_in_place_at"] == clock().isoformat()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"phase": None}, "trial or operational"),
        ({"phase": "pilot"}, "phase 'pilot' is not one of trial, operational"),
        ({"dpia_ref": ""}, "data protection impact assessment"),
        ({"eia_ref": " "}, "equality impact assessment"),
        ({"policy_ref": None}, "policy document"),
        ({"intelligence_case": ""}, "intelligence case"),
        ({"data_controller": ""}, "data controller"),
        ({"public_contact": ""}, "public contact"),
    ],
)
def test_missing_assessments_and_fields_are_named_and_nothing_is_created(
    store, make_deployment, change, named
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError, match=named):
        make_deployment(**change)
    assert list_deployments(store) == [] and entries(store) == []


def test_all_missing_assessments_named_at_once(make_deployment) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GovernanceError) as exc:
        make_deployment(dpia_ref=None, eia_ref=None, policy_ref=None, intelligence_case=None)
    for words in ("impact assessment reference (dpia_ref)", "eia_ref", "policy_ref", "intelligence_case"):
        assert words in str(exc.value)


def test_assessments_published_but_not_the_intelligence_case(store, make_deployment) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    rec = deployment_record(store, dep.id)
    assert rec["dpia_ref"] == "DPIA-2030-014" and rec["phase"] == "trial"
    assert rec["data_controller"] == "Chief Constable of Example Police"
    assert dep.intelligence_case and dep.intelligence_case not in json.dumps(rec)
    assert dep.intelligence_case not in record_html(rec)


def test_unknown_image_source_and_seriousness_are_refused(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    person, images = lfw_people()[0]
    with pytest.raises(GovernanceError, match=r"unknown image source 'facebook'.*custody"):
        enrol_subject(
            store, "e", dep.id, entry(person, clock(), image_source="facebook"), [images[0]], clock=clock
        )
    with pytest.raises(GovernanceError, match="offence seriousness is required"):
        enrol_subject(
            store, "e", dep.id, entry(person, clock(), offence_seriousness=None), [images[0]], clock=clock
        )
    assert list_subjects(store, dep.id) == []
    # A missing person has no offence: the seriousness is "no offence" unless stated.
    kw = {"category": "missing_at_risk", "offence_seriousness": None, "image_source": "family or carer"}
    enrol_subject(store, "e", dep.id, entry(person, clock(), **kw), [images[0]], clock=clock)
    assert len(list_subjects(store, dep.id)) == 1


def test_threshold_check_at_opening_uses_the_watchlist_size(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    save_calibration(
        Calibration(
            pack="opencv-zoo",
            validated_min_threshold=0.40,
            points=(ThresholdPoint(0.001, 1, 0.45), ThresholdPoint(0.001, 10, 0.55)),
        ),
        local_calibration_path("opencv-zoo", store.settings.data_dir),
    )
    small = make_deployment(threshold=0.5)
    _enrol(store, small.id, clock, n=1)
    record_signage(store, "pc (officer)", small.id, clock=clock)
    assert open_deployment(store, authoriser(store), small.id, clock=clock).status == "open"
    big = make_deployment(threshold=0.5, location="Queen St")
    _enrol(store, big.id, clock, n=2)
    record_signage(store, "pc (officer)", big.id, clock=clock)
    with pytest.raises(GovernanceError, match=r"below 0\.550.*FPIR 0\.001 with a watchlist of 2"):
        open_deployment(store, authoriser(store), big.id, clock=clock)
    opened = open_deployment(store, authoriser(store), big.id, override_reason="court-approved", clock=clock)
    assert opened.threshold_override_reason == "court-approved"


def test_watchlist_composition_frozen_at_close_and_published(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    _enrol(store, dep.id, clock, n=2)
    close_deployment(store, "sup", dep.id, clock=clock)
    rec = deployment_record(store, dep.id)
    assert rec["watchlist_by_category"] == {"wanted by a court": 2}
    assert rec["watchlist_by_image_source"] == {"custody image taken on arrest": 2}
    assert rec["watchlist_by_offence_seriousness"] == {"either-way offence": 2}


def test_engagement_records_reason_and_leaflet(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    live: Live = make_live(store, make_deployment, clock)
    a, b = live.alert(track_id="a"), live.alert(track_id="b")
    for x in (a, b):
        review_alert(store, "op", x, "engage", clock=clock)
    with pytest.raises(GovernanceError, match="reason for the stop was explained and whether the leaflet"):
        record_engagement(store, "pc", a, "confirmed_true", clock=clock)
    with pytest.raises(GovernanceError, match="whether the leaflet was given"):
        record_engagement(store, "pc", a, "confirmed_true", reason_explained=True, clock=clock)
    record_engagement(
        store, "pc", a, "confirmed_true", reason_explained=True, leaflet_given=True, clock=clock
    )
    with pytest.raises(GovernanceError, match="not met"):
        record_engagement(store, "pc", b, "not_engaged", leaflet_given=True, clock=clock)
    record_engagement(store, "pc", b, "not_engaged", clock=clock)
    rec = deployment_record(store, live.deployment.id)
    assert (rec["engagements"], rec["engagements_reason_explained"], rec["engagements_leaflet_given"]) == (
        1,
        1,
        1,
    )


def test_period_totals_and_publication(store, make_deployment, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    live = make_live(store, make_deployment, clock)
    live.alert()
    start, end = datetime(2030, 1, 1, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)
    totals = period_totals(store, start, end, "auditor (auditor)", clock=clock)
    assert totals["deployments"] == 1 and totals["trial_deployments"] == 1 and totals["alerts"] == 1
    assert totals["short_notice_deployments"] == 1 and totals["unadjudicated_alerts"] == 1
    assert period_totals(store, end, end + timedelta(days=365))["deployments"] == 0
    with pytest.raises(GovernanceError, match=r"ends .* before it starts"):
        period_totals(store, end, start)
    paths = write_period(totals, tmp_path)
    assert "Deployments at short notice" in paths[2].read_text()
    assert any(e.action == "report.period" for e in entries(store))
    rec = deployment_record(store, live.deployment.id)
    rec["data_controller"] = None
    with pytest.raises(GovernanceError, match="without data controller"):
        write_record(rec, tmp_path)


def test_record_html_is_a_template_that_escapes(store, make_deployment) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment(location="<script>alert(1)</script> Square")
    html = record_html(deployment_record(store, dep.id))
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "Trial or operational" in html and "Data protection impact assessment" in html
