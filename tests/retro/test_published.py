"""RFR and OIFR totals are published per period (issue 26): counts by crime category and by reason, the
recorded outcomes, which uses are switched on; never an image, record id, case reference or name."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from openlfr.governance.report import period_totals
from openlfr.retro.cases import close_case
from openlfr.retro.media import RetroError
from openlfr.retro.oifr import oifr_search, record_oifr_outcome
from openlfr.retro.reviews import record_investigation, review_candidate
from openlfr.retro.rfr import rfr_search
from openlfr.store import Store
from tests.retro.helpers import CELEB, celeb, open_test_case, small_gallery

pytestmark = pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def engine(engine_factory):  # type: ignore[no-untyped-def]
    return engine_factory("opencv-zoo")


def test_period_totals_count_rfr_and_oifr_and_name_nobody(store: Store, engine, clock) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=2)
    start = clock.now - timedelta(days=1)
    open_test_case(store, "CR-2026-0815", crime_category="robbery")
    single = celeb(f"{CELEB}/knn_examples/test/obama1.jpg")
    group = celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")
    faces = rfr_search(
        store, engine, "CR-2026-0815", "cctv", [single], "ivy (investigator)", provenance="cctv", clock=clock
    )
    rfr_search(
        store,
        engine,
        "CR-2026-0815",
        "cctv",
        [group],
        "ivy (investigator)",
        provenance="cctv",
        all_faces_reason="both suspects",
        clock=clock,
    )
    top = faces[0].candidates[0]
    assert top.id is not None and top.record_id == "OB-1"
    with pytest.raises(RetroError, match="reported by two reviewers"):
        record_investigation(store, top.id, "confirmed", "ivy (investigator)")
    review_candidate(store, top.id, "possible_match", "rhys (reviewer)", clock=clock)
    review_candidate(store, top.id, "possible_match", "sue (reviewer)", clock=clock)
    review_candidate(store, top.id, "possible_match", "tim (reviewer)", clock=clock)  # counted once
    record_investigation(store, top.id, "confirmed", "ivy (investigator)", clock=clock)
    photo = celeb(f"{CELEB}/knn_examples/test/obama1.jpg").read_bytes()
    a = oifr_search(store, engine, bytearray(photo), "unconscious", "pc kay (officer)", clock=clock)
    oifr_search(store, engine, bytearray(photo), "false_details", "pc kay (officer)", clock=clock)
    record_oifr_outcome(store, a.id, "identified", "pc kay (officer)", record_id="OB-1", clock=clock)
    # The case closed early still counts.
    close_case(store, "CR-2026-0815", "charged", "ivy (investigator)", clock=clock)

    t = period_totals(store, start, clock.now + timedelta(days=1), clock=clock)
    assert t["rfr_searches"] == 2 and t["rfr_people_searched"] >= 3
    assert t["rfr_possible_matches_reported"] == 1 and t["rfr_confirmed_by_investigation"] == 1
    assert t["rfr_by_crime_category"]["robbery"]["searches"] == 2
    assert t["oifr_searches"] == 2 and t["oifr_identified"] == 1 and t["oifr_no_outcome"] == 1
    by_reason = t["oifr_by_reason"]
    assert by_reason["the person is unconscious"]["identified as a record on the list"] == 1
    assert by_reason["the person is believed to be giving false details"]["searches"] == 1
    assert t["rfr_enabled"] is True and t["oifr_enabled"] is True
    text = json.dumps(t)
    for secret in ("OB-1", "CR-2026-0815", "ivy", "rhys", "sue", "kay", a.id, top.id, "obama"):
        assert secret not in text, secret
    # Outside the period: nothing.
    later = period_totals(store, clock.now + timedelta(days=2), clock.now + timedelta(days=3))
    assert later["rfr_searches"] == 0 and later["oifr_searches"] == 0
