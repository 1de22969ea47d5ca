"""Rule 4: alerts are purged with their blobs after the retention period, by moving the clock forward;
held alerts are kept until released; every deletion is audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from openlfr.governance.alerts import (
    alert_image,
    get_alert,
    hold_as_evidence,
    record_disposal,
    record_engagement,
    release_evidence,
    renew_evidence,
    review_alert,
)
from openlfr.governance.audit import entries, verify
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployments import get_deployment
from openlfr.governance.errors import GovernanceError
from openlfr.governance.report import deployment_record
from openlfr.governance.retention import purge
from openlfr.governance.watchlists import enrol_subject, list_subjects
from openlfr.store.crypto import KeyDestroyed
from tests.governance.faces import entry, lfw_people
from tests.governance.live_setup import Live, make_live


@pytest.fixture
def live(store, make_deployment, clock) -> Live:  # type: ignore[no-untyped-def]
    return make_live(store, make_deployment, clock)


def _blob_files(live: Live, alert_id: str) -> list:  # type: ignore[type-arg]
    from openlfr.store.models import Alert

    with live.store.session() as s:
        a = s.query(Alert).filter_by(id=alert_id).one()
        return [
            live.store.blobs.path(a.deployment_id, b)
            for b in (a.probe_blob, a.frame_blob, a.candidate_blob)
            if b
        ]


def test_alert_and_its_blobs_are_purged_after_the_period(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    hours = live.store.settings.retention.alert_retention_hours
    a = live.alert()
    review_alert(live.store, "op", a, "false_alert")  # decided: nothing keeps it past its period
    files = _blob_files(live, a)
    assert len(files) == 3 and all(f.is_file() for f in files)
    clock.advance(hours=hours - 1)
    assert purge(live.store, clock=clock).alerts_purged == 0  # not yet
    assert all(f.is_file() for f in files)
    clock.advance(hours=1)
    report = purge(live.store, clock=clock)
    assert report.alerts_purged == 1 and report.blobs_deleted == 3
    assert not any(f.exists() for f in files)
    info = get_alert(live.store, a)
    assert (
        info.purged_at == clock()
        and info.subject_id is None
        and info.track_id is None
        and not info.has_images
    )
    with pytest.raises(GovernanceError, match="purged"):
        alert_image(live.store, "op", a, "probe")
    purged = [e for e in entries(live.store) if e.action == "alert.purge"]
    assert [e.target for e in purged] == [a] and json.loads(purged[0].details)["images_deleted"] == 3
    assert verify(live.store).ok


def test_short_retention_setting_is_honoured(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    store.settings.retention.alert_retention_hours = 24
    live = make_live(store, make_deployment, clock)
    a = live.alert()
    review_alert(store, "op", a, "false_alert")
    clock.advance(hours=24, seconds=1)
    purge(store, clock=clock)
    assert get_alert(store, a).purged_at is not None


def test_evidence_and_adjudication_holds_survive_the_purge_until_released(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    held = live.alert(track_id="evidence")
    engaged = live.alert(track_id="engaged")
    unreviewed = live.alert(track_id="unreviewed")
    hold_as_evidence(live.store, "sup (supervisor)", held, "court case 2030/17", clock=clock)
    review_alert(live.store, "op", engaged, "engage")
    clock.advance(days=29)  # inside both the retention period and the hold's 30-day review
    purge(live.store, clock=clock)
    clock.advance(days=2)
    report = purge(live.store, clock=clock)
    # The hold's review date passed unrenewed: it lapsed (issue 15 §5). Nobody ever reviewed it, so it goes
    # to a supervisor now and is purged once the escalation period passed (issue 25).
    assert report.evidence_lapsed == [held] and held not in report.kept_as_evidence
    assert report.escalated == [held] and get_alert(live.store, held).purged_at is None
    # Passed to engagement and never concluded, or never reviewed: escalated at day 29, purged undecided two
    # days later (issue 25: an alert nobody reviewed goes to a supervisor too).
    assert report.overdue_purged == [engaged, unreviewed] and report.kept_under_adjudication == [held]
    assert get_alert(live.store, unreviewed).purged_at is not None
    clock.advance(days=1)
    assert purge(live.store, clock=clock).overdue_purged == [held]
    assert [e.action for e in entries(live.store, action="alert.evidence_%")] == [
        "alert.evidence_hold",
        "alert.evidence_lapse",
    ]
    assert not any(f.exists() for f in _blob_files(live, held) + _blob_files(live, engaged))


def test_a_confirmed_false_alert_keeps_only_its_counts_at_the_next_purge(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    fresh = live.alert(track_id="fresh")
    review_alert(live.store, "op", fresh, "engage")
    record_engagement(live.store, "pc", fresh, "confirmed_false", reason_explained=True, leaflet_given=False)
    files = _blob_files(live, fresh)
    assert files and all(f.is_file() for f in files)
    report = purge(live.store, clock=clock)  # minutes after it was raised, long before its period
    assert report.confirmed_false_purged == [fresh] and report.kept_under_adjudication == []
    assert get_alert(live.store, fresh).purge_reason == "confirmed_false"
    assert not any(f.exists() for f in files)
    record_disposal(live.store, "pc", fresh, "no_action")  # the decision can still be recorded
    rec = deployment_record(live.store, live.deployment.id)
    assert rec["confirmed_false_purged"] == 1 and rec["false_alerts"] == 1
    assert rec["engagements_reason_explained"] == 1 and rec["engagements_leaflet_given"] == 0


def test_a_renewed_evidence_hold_is_kept_and_a_released_one_purged(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    held = live.alert(track_id="evidence")
    review_alert(live.store, "op", held, "engage")
    record_engagement(live.store, "pc", held, "confirmed_true", reason_explained=True, leaflet_given=True)
    record_disposal(live.store, "pc", held, "arrest")  # decided: only the hold keeps it
    hold_as_evidence(live.store, "sup (supervisor)", held, "court case 2030/17", clock=clock)
    clock.advance(days=29)
    with pytest.raises(GovernanceError, match="needs a reason"):
        renew_evidence(live.store, "sup (supervisor)", held, " ", clock=clock)
    renew_evidence(live.store, "sup (supervisor)", held, "trial listed for August", clock=clock)
    clock.advance(days=2)
    report = purge(live.store, clock=clock)
    assert report.kept_as_evidence == [held] and report.evidence_lapsed == []
    release_evidence(live.store, "sup (supervisor)", held, "case closed", clock=clock)
    assert purge(live.store, clock=clock).alerts_purged == 1
    assert [e.action for e in entries(live.store, action="alert.evidence_%")] == [
        "alert.evidence_hold",
        "alert.evidence_renew",
        "alert.evidence_release",
    ]
    rec = deployment_record(live.store, live.deployment.id)
    assert rec["evidence_hold_renewals"] == 1 and rec["evidence_holds_lapsed"] == 0


def test_undecided_alert_goes_to_a_supervisor_then_is_purged(live: Live, clock, store) -> None:  # type: ignore[no-untyped-def]
    """Issue 15 §5: passed to engagement and never concluded, an alert is no longer kept without bound."""
    a = live.alert(track_id="stuck")
    review_alert(live.store, "op", a, "engage")
    max_h = store.settings.retention.max_adjudication_hours
    clock.advance(hours=max_h - 1)
    assert purge(live.store, clock=clock).escalated == []
    clock.advance(hours=1)
    report = purge(live.store, clock=clock)
    assert report.escalated == [a] and get_alert(live.store, a).escalated_at == clock()
    clock.advance(hours=store.settings.retention.escalation_hours - 1)
    assert purge(live.store, clock=clock).overdue_purged == []
    clock.advance(hours=1)
    report = purge(live.store, clock=clock)
    assert report.overdue_purged == [a]
    info = get_alert(live.store, a)
    assert info.purged_at is not None and info.purge_reason == "adjudication_overdue" and not info.has_images
    actions = [e.action for e in entries(live.store, deployment_id=live.deployment.id) if e.target == a]
    assert "alert.escalate" in actions and "alert.purge" in actions
    rec = deployment_record(live.store, live.deployment.id)
    assert rec["alerts_escalated"] == 1 and rec["alerts_purged_undecided"] == 1


def test_purge_closes_ended_deployments_and_destroys_the_alerts_key_last(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    a = live.alert()
    review_alert(live.store, "op", a, "engage")
    record_engagement(live.store, "pc", a, "confirmed_true", reason_explained=True, leaflet_given=True)
    record_disposal(live.store, "pc", a, "arrest")
    clock.advance(hours=9)  # past the window's end, never closed by hand
    report = purge(live.store, clock=clock)
    assert report.deployments_closed == [live.deployment.id]
    assert get_deployment(live.store, live.deployment.id).status == "closed"
    assert list_subjects(live.store, live.deployment.id) == []
    # The alert outlives the watchlist (rule 4 vs rule 5): its own key still opens its images.
    assert alert_image(live.store, "op", a, "candidate")
    clock.advance(days=30)
    report = purge(live.store, clock=clock)
    assert report.alerts_purged == 1 and report.alert_keys_destroyed == [live.deployment.id]
    with live.store.session() as s, pytest.raises(KeyDestroyed):
        live.store.keys.get(s, live.deployment.id, "alerts")
    assert not (live.store.blobs.root / live.deployment.id).exists()
    # The published record still counts what happened.
    rec = deployment_record(live.store, live.deployment.id)
    assert (rec["alerts"], rec["true_alerts"], rec["arrests"], rec["watchlist_size"]) == (1, 1, 1, 2)
    actions = [e.action for e in entries(live.store, deployment_id=live.deployment.id)]
    assert "deployment.close" in actions and "deployment.alerts_key_destroyed" in actions


def test_expired_watchlist_entries_are_deleted(live: Live, clock, store) -> None:  # type: ignore[no-untyped-def]
    third = lfw_people()[2]
    enrol_subject(
        store,
        "e",
        live.deployment.id,
        entry("short", clock(), expires_at=clock() + timedelta(hours=2)),
        [third[1][0]],
        clock=clock,
    )
    assert len(list_subjects(store, live.deployment.id)) == 3
    clock.advance(hours=3)
    index, subjects = live.gateway.watchlist()
    assert "short" not in subjects and index.subject_count == 2  # expired entries are not searched
    report = purge(store, clock=clock)
    assert report.subjects_expired == 1
    assert {s.subject_id for s in list_subjects(store, live.deployment.id)} == set(live.people)
    assert entries(store, action="watchlist.expire")[0].target == "short"


def test_close_with_no_alerts_destroys_both_keys(store, make_deployment, clock) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment()
    close_deployment(store, "sup", dep.id, clock=clock)
    with store.session() as s:
        assert store.keys.live_purposes(s, dep.id) == []


# --- issue 25: a governed purge ----------------------------------------------------------------------------


def test_a_shortened_retention_in_the_purgers_environment_leaves_an_undecided_alert(  # type: ignore[no-untyped-def]
    live: Live, clock, monkeypatch
) -> None:
    """The promise fixed at open is what the purge applies: a purge run with
    OPENLFR_RETENTION__ALERT_RETENTION_HOURS=0.0001 (the issue's reproduction) keeps the undecided alert, its
    images and the deployment's alerts key; it goes only after a supervisor was told and the escalation
    period passed."""
    from openlfr.config import Settings
    from openlfr.store import open_store

    unreviewed = live.alert(track_id="nobody-looked")
    decided = live.alert(track_id="false", subject=1)
    review_alert(live.store, "op", decided, "false_alert")
    files = _blob_files(live, unreviewed)
    promise = deployment_record(live.store, live.deployment.id)["retention_promise"]
    assert promise == {
        "alert_retention_hours": 720.0,
        "max_adjudication_hours": 72.0,
        "escalation_hours": 24.0,
    }

    monkeypatch.setenv("OPENLFR_RETENTION__ALERT_RETENTION_HOURS", "0.0001")
    monkeypatch.setenv("OPENLFR_RETENTION__MAX_ADJUDICATION_HOURS", "0.0001")
    monkeypatch.setenv("OPENLFR_RETENTION__ESCALATION_HOURS", "0.0001")
    attacker = Settings(data_dir=live.store.settings.data_dir, store=live.store.settings.store.model_dump())
    assert attacker.retention.alert_retention_hours == 0.0001
    other = open_store(attacker)
    try:
        clock.advance(hours=1)
        report = purge(other, "chief (authorising_officer)", clock=clock)
        assert report.alerts_purged == 0 and report.escalated == []
        assert get_alert(live.store, unreviewed).purged_at is None and all(f.is_file() for f in files)
        assert get_alert(live.store, decided).purged_at is None  # decided, but its 30 days are promised
        with live.store.session() as s:
            assert live.store.keys.get(s, live.deployment.id, "alerts")
        # 72 hours on, nobody has reviewed it: a supervisor is told, and it is still kept.
        clock.advance(hours=71)
        report = purge(other, "chief (authorising_officer)", clock=clock)
        assert report.escalated == [unreviewed] and report.alerts_purged == 0
        clock.advance(hours=23)
        assert purge(other, "chief (authorising_officer)", clock=clock).alerts_purged == 0
        clock.advance(hours=1)
        report = purge(other, "chief (authorising_officer)", clock=clock)
        assert report.overdue_purged == [unreviewed] and get_alert(live.store, decided).purged_at is None
    finally:
        other.close()
    rows = [e for e in entries(live.store) if e.action in ("alert.escalate", "alert.purge", "purge.run")]
    assert {(e.actor, e.role) for e in rows} == {("chief", "authorising_officer")}
    details = json.loads(next(e for e in rows if e.action == "alert.escalate").details)
    assert details["state"] and details["escalation_hours"] == 24.0


def test_an_alert_nobody_reviewed_is_escalated_when_its_period_ends_first(  # type: ignore[no-untyped-def]
    store, make_deployment, clock
) -> None:
    """With a 24-hour promise (shorter than max_adjudication_hours), an unreviewed alert is escalated when its
    period ends and kept through the escalation period, never purged unseen."""
    store.settings.retention.alert_retention_hours = 24
    live = make_live(store, make_deployment, clock)
    a = live.alert()
    clock.advance(hours=24)
    report = purge(store, clock=clock)
    assert report.escalated == [a] and report.kept_under_adjudication == [a] and report.alerts_purged == 0
    clock.advance(hours=23)
    assert purge(store, clock=clock).alerts_purged == 0
    review_alert(store, "sup", a, "false_alert")  # the supervisor decides: it goes with its period
    assert purge(store, clock=clock).alerts_purged == 1


def test_the_scheduled_purge_acts_as_its_service_identity(live: Live, clock, store) -> None:  # type: ignore[no-untyped-def]
    from openlfr.governance.retention import service_identity

    store.settings.retention.service_identity = "purge-svc"
    purge(store, clock=clock)
    run = entries(store, action="purge.run")[-1]
    assert (
        (run.actor, run.role)
        == ("purge-svc", "service")
        == (
            service_identity(store.settings).name,
            service_identity(store.settings).role,
        )
    )
    assert not [e for e in entries(store) if e.actor == "system" and e.action.startswith(("purge", "alert"))]


def test_a_deployment_opened_before_promises_were_stored_gets_one_once(live: Live, clock, store) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from openlfr.store.models import Deployment

    with store.session() as s:
        s.execute(update(Deployment).values(alert_retention_hours=None))
    assert deployment_record(store, live.deployment.id)["retention_promise"] is None
    purge(store, clock=clock)
    fixed = entries(store, action="deployment.retention_fixed")
    assert [e.deployment_id for e in fixed] == [live.deployment.id]
    store.settings.retention.alert_retention_hours = 1  # later settings do not move it
    purge(store, clock=clock)
    assert len(entries(store, action="deployment.retention_fixed")) == 1
    assert deployment_record(store, live.deployment.id)["retention_promise"]["alert_retention_hours"] == 720.0


def test_the_servers_scheduled_purge_names_its_service_identity(live: Live, store) -> None:  # type: ignore[no-untyped-def]
    """`openlfr serve`'s purge duty (alerts and RFR cases) is audited as the service identity, not `system`."""
    import asyncio
    import threading
    from types import SimpleNamespace

    from openlfr.api.duties import scheduled_purge

    app = SimpleNamespace(state=SimpleNamespace(store=store))

    async def one_round() -> None:
        task = asyncio.create_task(scheduled_purge(app))  # type: ignore[arg-type]
        for _ in range(600):  # the first round runs at once, then the duty sleeps for the interval
            await asyncio.sleep(0.05)
            if "retro_cases" in getattr(app.state, "last_purge", {}):
                break
        task.cancel()

    # In its own thread: a browser test's Playwright may hold an event loop running in this one.
    worker = threading.Thread(target=asyncio.run, args=(one_round(),))
    worker.start()
    worker.join(timeout=60)
    assert "retro_cases" in app.state.last_purge
    run = entries(store, action="purge.run")[-1]
    assert (run.actor, run.role) == (store.settings.retention.service_identity, "service")


def test_the_purge_forgets_the_custody_reference_with_the_images(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    """The custody or crime reference links the alert to a person: it goes at the retention purge, as at
    erasure, not only when the deployment's alerts key is destroyed."""
    from openlfr.governance.alerts import record_disposal
    from openlfr.governance.outcomes import OutcomeDetail
    from openlfr.store.models import Alert

    a = live.alert()
    review_alert(live.store, "op", a, "engage")
    record_engagement(live.store, "pc", a, "confirmed_true", reason_explained=True, leaflet_given=True)
    record_disposal(live.store, "pc", a, "advice", detail=OutcomeDetail(custody_reference="CR/123/26"))
    with live.store.session() as s:
        assert s.query(Alert).filter_by(id=a).one().custody_reference is not None
    clock.advance(hours=live.store.settings.retention.alert_retention_hours + 1)
    assert purge(live.store, clock=clock).alerts_purged == 1
    with live.store.session() as s:
        row = s.query(Alert).filter_by(id=a).one()
        assert row.custody_reference is None and row.probe_blob is None
