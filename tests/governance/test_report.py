"""The published deployment record: counts, both measures, and the JSON/CSV/HTML files."""

from __future__ import annotations

import csv
import json

import pytest

from openlfr.governance.alerts import record_disposal, record_engagement, review_alert
from openlfr.governance.audit import entries
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.measures import clopper_pearson
from openlfr.governance.report import deployment_record, write_record
from tests.governance.live_setup import make_live


def test_record_counts_outcomes_and_carries_both_measures(store, make_deployment, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    live = make_live(store, make_deployment, clock)
    ids = [live.alert(track_id=f"t{i}") for i in range(5)]
    review_alert(store, "op", ids[0], "engage")
    record_engagement(store, "pc", ids[0], "confirmed_true", reason_explained=True, leaflet_given=True)
    record_disposal(store, "pc", ids[0], "arrest")
    review_alert(store, "op", ids[1], "false_alert")
    review_alert(store, "op", ids[2], "engage")
    record_engagement(store, "pc", ids[2], "confirmed_false", reason_explained=True, leaflet_given=True)
    review_alert(store, "op", ids[3], "engage")
    record_engagement(store, "pc", ids[3], "not_engaged")
    # ids[4] never reviewed
    live.gateway.record_counters(
        "cam-1", faces_seen=1500, tracks=900, frames_processed=9000, frames_dropped=12
    )
    live.gateway.record_counters("cam-2", faces_seen=500, tracks=300, frames_processed=9000, frames_dropped=0)
    close_deployment(store, "sup", live.deployment.id, clock=clock)

    rec = deployment_record(store, live.deployment.id, actor="analyst (supervisor)", clock=clock)
    assert rec["alerts"] == 5 and rec["true_alerts"] == 1 and rec["false_alerts"] == 2
    assert rec["unadjudicated_alerts"] == 2 and rec["engagements"] == 2 and rec["arrests"] == 1
    assert (
        rec["faces_seen"] == 1200
        and rec["face_detections"] == 2000
        and rec["watchlist_size"] == 2
        and rec["watchlist_holds_under_18"] is False
    )
    assert rec["alert_precision"] == pytest.approx(1 / 3)
    assert rec["alert_precision_ci95"] == pytest.approx(list(clopper_pearson(1, 3)))
    assert rec["false_alerts_per_1000_faces"] == pytest.approx(2 / 1200 * 1000)  # per distinct face (track)
    assert rec["threshold"] == live.deployment.threshold and rec["pack"] == "opencv-zoo"
    assert rec["location"] == "High Street, Cardiff" and rec["status"] == "closed"
    assert entries(store, last=1)[0].action == "report.deployment"

    paths = write_record(rec, tmp_path / "out")
    assert [p.suffix for p in paths] == [".json", ".csv", ".html"]
    assert json.loads(paths[0].read_text()) == rec
    rows = list(csv.DictReader(paths[1].open()))
    assert len(rows) == 1 and rows[0]["arrests"] == "1" and rows[0]["watchlist_holds_under_18"] == "no"
    page = paths[2].read_text()
    assert "High Street, Cardiff" in page and "False alerts per 1,000 faces seen" in page
    assert "precision 33%" in page and "2 not adjudicated" in page
    # No personal data in the published record.
    for person in live.people:
        assert person not in paths[0].read_text() and person not in page


def test_record_escapes_html(store, make_deployment, clock, tmp_path) -> None:  # type: ignore[no-untyped-def]
    dep = make_deployment(location="<script>alert(1)</script> Square")
    page = write_record(deployment_record(store, dep.id), tmp_path)[2].read_text()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
