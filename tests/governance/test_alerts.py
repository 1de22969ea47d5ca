"""The live gateway and alerts: rule 1 at the gateway, rule 2 (threshold recorded), rule 6 (audited),
rule 7 (people decide, in order, once)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from openlfr.governance.alerts import (
    alert_image,
    get_alert,
    hold_as_evidence,
    list_alerts,
    record_disposal,
    record_engagement,
    release_evidence,
    review_alert,
)
from openlfr.governance.audit import SYSTEM, entries, verify
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.errors import GovernanceError, NotFound, ScanRefused
from openlfr.governance.live_gateway import DeploymentGateway
from tests.governance.faces import lfw_people
from tests.governance.live_setup import Live, make_live


@pytest.fixture
def live(store, make_deployment, clock) -> Live:  # type: ignore[no-untyped-def]
    return make_live(store, make_deployment, clock)


def test_watchlist_is_decrypted_in_memory_and_audited(live: Live) -> None:
    index, subjects = live.gateway.watchlist()
    assert index.subject_count == 2 and set(subjects) == set(live.people)
    assert subjects[live.people[0]].category == "wanted_by_court"
    assert subjects[live.people[0]].reason
    load = [e for e in entries(live.store) if e.action == "watchlist.load"]
    assert load and json.loads(load[-1].details)["subjects"] == 2 and load[-1].actor == "system"
    # The reference image comes back as enrolled, and the read is audited.
    best = index.search(index._templates[:1], k=1)[0][0]  # a template finds itself
    data = live.gateway.reference_image(best.subject_id, best.template_index)
    assert data == dict((p, imgs) for p, imgs in lfw_people()[:2])[best.subject_id][0].read_bytes()
    assert entries(live.store, last=1)[0].action == "watchlist.image_read"


def test_a_real_probe_raises_an_alert_with_the_threshold_in_force(live: Live) -> None:
    alert_id = live.alert(subject=0)
    a = get_alert(live.store, alert_id)
    assert a.subject_id == live.people[0] and a.state == "raised" and a.camera_id == "cam-1"
    assert a.threshold == live.deployment.threshold and a.score >= a.threshold
    # The crops are stored encrypted and read back only through an audited call.
    probe = lfw_people()[0][1][1].read_bytes()
    assert alert_image(live.store, "op (operator)", alert_id, "probe") == probe
    assert (
        alert_image(live.store, "op (operator)", alert_id, "candidate") == lfw_people()[0][1][0].read_bytes()
    )
    for f in (live.store.blobs.root / live.deployment.id).iterdir():
        assert probe[:64] not in f.read_bytes()
    reads = [e for e in entries(live.store) if e.action == "alert.image_read"]
    assert [json.loads(e.details)["image"] for e in reads] == ["probe", "candidate"]
    assert entries(live.store, action="alert.raise")[0].target == alert_id


def test_a_fresh_gateway_raises_an_alert_without_loading_the_watchlist_first(live: Live) -> None:
    # A camera worker restarted mid-deployment may deliver a queued alert before it calls watchlist():
    # the template row lookup then runs inside raise_alert's own session (a nested one locked SQLite).
    fresh = DeploymentGateway(live.store, live.deployment.id, live.store.settings, clock=live.clock)
    live.gateway = fresh
    alert_id = live.alert(subject=1, track_id="t9")
    a = get_alert(live.store, alert_id)
    assert a.subject_id == live.people[1] and a.threshold == live.deployment.threshold
    assert (
        alert_image(live.store, "op (operator)", alert_id, "candidate") == lfw_people()[1][1][0].read_bytes()
    )
    other = DeploymentGateway(live.store, live.deployment.id, live.store.settings, clock=live.clock)
    assert other.reference_image(live.people[0], 0) == lfw_people()[0][1][0].read_bytes()


def test_rule1_at_the_gateway(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    live.gateway.check_can_scan("cam-2")
    with pytest.raises(ScanRefused, match="not one of"):
        live.gateway.check_can_scan("cam-7")
    with pytest.raises(ScanRefused, match="not one of"):
        live.alert(camera_id="cam-7")
    with pytest.raises(ScanRefused, match="has not started"):
        live.alert(observed_at=live.deployment.starts_at - timedelta(minutes=1))
    clock.advance(hours=9)
    with pytest.raises(ScanRefused, match="ended"):
        live.gateway.check_can_scan("cam-1")
    with pytest.raises(ScanRefused, match="window ended"):
        live.gateway.watchlist()
    with pytest.raises(ScanRefused, match="ended"):
        live.alert(observed_at=clock())
    assert list_alerts(live.store, live.deployment.id) == []


def test_close_elsewhere_stops_the_gateway(live: Live) -> None:
    other_process = DeploymentGateway(live.store, live.deployment.id, live.store.settings, clock=live.clock)
    close_deployment(live.store, "sup", live.deployment.id, clock=live.clock)
    with pytest.raises(ScanRefused, match="closed"):
        other_process.check_can_scan("cam-1")
    with pytest.raises(ScanRefused, match="closed"):
        other_process.watchlist()


def test_rule2_alerts_below_the_deployment_threshold_are_refused(live: Live) -> None:
    with pytest.raises(GovernanceError, match=r"below deployment .* threshold"):
        live.alert(threshold=live.deployment.threshold - 0.1)
    with pytest.raises(GovernanceError, match="not an alert"):
        live.alert(score=live.deployment.threshold - 0.01)


def test_alert_ids_are_idempotent_and_listable_for_polling(live: Live) -> None:
    first = live.alert(alert_id="abc123")
    assert live.alert(alert_id="abc123") == first  # a retried delivery
    second = live.alert(subject=1, track_id="t2")
    alerts = list_alerts(live.store, live.deployment.id)
    assert [a.id for a in alerts] == [first, second]
    assert [a.id for a in list_alerts(live.store, live.deployment.id, after_seq=alerts[0].seq)] == [second]
    assert list_alerts(live.store, live.deployment.id, after_seq=alerts[1].seq) == []


def test_counters_add_up(live: Live) -> None:
    live.gateway.record_counters("cam-1", faces_seen=10, tracks=4, frames_processed=100, frames_dropped=2)
    live.gateway.record_counters("cam-1", faces_seen=5, tracks=1, frames_processed=50, frames_dropped=0)
    live.gateway.record_counters("cam-2", faces_seen=1, tracks=1, frames_processed=10, frames_dropped=0)
    from openlfr.governance.report import deployment_record

    rec = deployment_record(live.store, live.deployment.id)
    assert (rec["faces_seen"], rec["face_detections"]) == (6, 16)
    assert (rec["frames_processed"], rec["frames_dropped"]) == (160, 2)
    with pytest.raises(ScanRefused):
        live.gateway.record_counters("cam-9", faces_seen=1, tracks=1, frames_processed=1, frames_dropped=0)
    with pytest.raises(ValueError):
        live.gateway.record_counters("cam-1", faces_seen=-1, tracks=0, frames_processed=0, frames_dropped=0)


def test_rule7_people_decide_in_order_and_once(live: Live) -> None:
    a = live.alert()
    for actor in (SYSTEM, "system"):
        with pytest.raises(GovernanceError, match="rule 7"):
            review_alert(live.store, actor, a, "engage")
    with pytest.raises(GovernanceError, match="only an alert passed to engagement"):
        record_engagement(
            live.store, "pc (officer)", a, "confirmed_true", reason_explained=True, leaflet_given=True
        )
    with pytest.raises(GovernanceError, match="follows an engagement"):
        record_disposal(live.store, "pc (officer)", a, "arrest")
    with pytest.raises(GovernanceError, match="review must be one of"):
        review_alert(live.store, "op (operator)", a, "confirmed_true")
    assert (
        review_alert(live.store, "op (operator)", a, "engage", note="looks like him").state
        == "passed_to_engagement"
    )
    with pytest.raises(GovernanceError, match="already reviewed"):
        review_alert(live.store, "op (operator)", a, "false_alert")
    assert (
        record_engagement(
            live.store, "pc (officer)", a, "confirmed_true", reason_explained=True, leaflet_given=True
        ).state
        == "confirmed_true"
    )
    with pytest.raises(GovernanceError, match="already has an engagement outcome"):
        record_engagement(
            live.store, "pc (officer)", a, "confirmed_false", reason_explained=True, leaflet_given=True
        )
    done = record_disposal(live.store, "pc (officer)", a, "arrest")
    assert done.state == "disposed:arrest" and done.disposed_by == "pc (officer)"
    with pytest.raises(GovernanceError, match="already has a disposal"):
        record_disposal(live.store, "pc (officer)", a, "advice")
    steps = [
        (e.action, e.actor) for e in entries(live.store) if e.target == a and e.action.startswith("alert.")
    ]
    assert steps == [
        ("alert.raise", "system"),
        ("alert.review", "op"),
        ("alert.engagement", "pc"),
        ("alert.disposal", "pc"),
    ]
    assert verify(live.store).ok


def test_rule7_the_system_never_records_a_true_match(live: Live) -> None:
    """However high the score, a new alert is only 'raised': truth is for people to establish."""
    a = get_alert(live.store, live.alert(score=0.99))
    assert a.state == "raised" and a.review is None and a.engagement is None


def test_false_alert_and_not_engaged_end_the_flow(live: Live) -> None:
    a = live.alert()
    review_alert(live.store, "op", a, "false_alert")
    with pytest.raises(GovernanceError):
        record_engagement(live.store, "pc", a, "confirmed_false", reason_explained=True, leaflet_given=True)
    b = live.alert(track_id="t9")
    review_alert(live.store, "op", b, "engage")
    record_engagement(live.store, "pc", b, "not_engaged")
    with pytest.raises(GovernanceError, match="follows an engagement"):
        record_disposal(live.store, "pc", b, "no_action")


def test_evidence_hold_needs_a_person_and_a_reason(live: Live) -> None:
    a = live.alert()
    with pytest.raises(GovernanceError, match="needs a reason"):
        hold_as_evidence(live.store, "sup", a, " ")
    with pytest.raises(GovernanceError, match="rule 7"):
        hold_as_evidence(live.store, SYSTEM, a, "x")
    assert hold_as_evidence(live.store, "sup", a, "case 42").evidence_hold
    with pytest.raises(GovernanceError, match="already held"):
        hold_as_evidence(live.store, "sup", a, "case 42")
    assert not release_evidence(live.store, "sup", a, "case closed").evidence_hold
    with pytest.raises(NotFound):
        review_alert(live.store, "op", "no-such-alert", "engage")


def test_rule7_amendment_is_a_new_audited_decision_never_a_rewrite(live: Live) -> None:
    from openlfr.governance.alerts import amend_decision
    from openlfr.governance.report import deployment_record

    a = live.alert()
    review_alert(live.store, "op (operator)", a, "engage")
    record_engagement(
        live.store, "pc (officer)", a, "confirmed_true", reason_explained=True, leaflet_given=True
    )
    record_disposal(live.store, "pc (officer)", a, "arrest")
    with pytest.raises(GovernanceError, match="needs a reason"):
        amend_decision(live.store, "sgt (authorising officer)", a, "disposal", "advice", "  ")
    with pytest.raises(GovernanceError, match="not by its author"):
        amend_decision(live.store, "pc (officer)", a, "disposal", "advice", "wrong button")
    with pytest.raises(GovernanceError, match="rule 7"):
        amend_decision(live.store, SYSTEM, a, "disposal", "advice", "wrong button")
    with pytest.raises(GovernanceError, match="has a disposal"):
        amend_decision(live.store, "sgt (authorising officer)", a, "engagement", "not_engaged", "never met")
    with pytest.raises(GovernanceError, match="already has an engagement outcome"):
        amend_decision(live.store, "sgt (authorising officer)", a, "review", "false_alert", "not him")
    with pytest.raises(GovernanceError, match="already arrest"):
        amend_decision(live.store, "sgt (authorising officer)", a, "disposal", "arrest", "same")
    assert get_alert(live.store, a).disposal == "arrest"  # every refusal left it as it was

    amended = amend_decision(live.store, "sgt (authorising officer)", a, "disposal", "advice", "wrong button")
    assert amended.disposal == "advice" and amended.disposed_by == "sgt (authorising officer)"
    amend_decision(live.store, "sgt (authorising officer)", a, "engagement", "confirmed_false", "ID check")
    row = next(e for e in entries(live.store) if e.action == "alert.amend")
    details = json.loads(row.details)
    assert (details["from"], details["to"], details["originally_by"]) == ("arrest", "advice", "pc (officer)")
    assert details["reason"] == "wrong button" and row.target == a
    # The original decisions are still in the log, untouched, and the chain verifies.
    assert [json.loads(e.details)["decision"] for e in entries(live.store, action="alert.disposal")] == [
        "arrest"
    ]
    assert verify(live.store).ok
    rec = deployment_record(live.store, live.deployment.id)
    assert rec["amendments_by_kind"] == {
        "disposal: arrest → advice": 1,
        "engagement: confirmed true → confirmed false": 1,
    }
    assert rec["true_alerts"] == 0 and rec["false_alerts"] == 1 and rec["arrests"] == 0
