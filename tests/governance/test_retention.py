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
    review_alert,
)
from openlfr.governance.audit import entries, verify
from openlfr.governance.deployments import close_deployment, get_deployment
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
    clock.advance(hours=24, seconds=1)
    purge(store, clock=clock)
    assert get_alert(store, a).purged_at is not None


def test_evidence_and_adjudication_holds_survive_the_purge_until_released(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    held = live.alert(track_id="evidence")
    engaged = live.alert(track_id="engaged")
    unreviewed = live.alert(track_id="unreviewed")
    hold_as_evidence(live.store, "sup (supervisor)", held, "court case 2030/17")
    review_alert(live.store, "op", engaged, "engage")
    clock.advance(days=31)
    report = purge(live.store, clock=clock)
    assert report.kept_as_evidence == [held] and report.kept_under_adjudication == [engaged]
    assert get_alert(live.store, unreviewed).purged_at is not None
    assert all(f.is_file() for f in _blob_files(live, held) + _blob_files(live, engaged))
    kept = [e for e in entries(live.store) if e.action == "alert.retention_kept"]
    assert json.loads(kept[-1].details) == {
        "evidence": [held],
        "under_adjudication": [engaged],
        "retention_hours": 720.0,
    }
    # Concluding the adjudication, and releasing the evidence hold, let the next purge delete them.
    record_engagement(live.store, "pc", engaged, "confirmed_false")
    assert purge(live.store, clock=clock).kept_under_adjudication == [engaged]  # awaiting its disposal
    record_disposal(live.store, "pc", engaged, "no_action")
    release_evidence(live.store, "sup (supervisor)", held, "case closed")
    report = purge(live.store, clock=clock)
    assert report.alerts_purged == 2 and report.kept_as_evidence == []
    assert not any(f.exists() for f in _blob_files(live, held) + _blob_files(live, engaged))
    assert [e.action for e in entries(live.store, action="alert.evidence_%")] == [
        "alert.evidence_hold",
        "alert.evidence_release",
    ]


def test_purge_closes_ended_deployments_and_destroys_the_alerts_key_last(live: Live, clock) -> None:  # type: ignore[no-untyped-def]
    a = live.alert()
    review_alert(live.store, "op", a, "engage")
    record_engagement(live.store, "pc", a, "confirmed_true")
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
