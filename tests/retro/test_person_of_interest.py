"""Only the person of interest is searched and kept (issue 26): a video or a group image first yields the
people found; only those the officer chooses are searched, and nothing of the others is written."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openlfr.retro.cases import case_folder, get_case
from openlfr.retro.media import RetroError
from openlfr.retro.people import ChoiceNeeded
from openlfr.retro.rfr import find_people, rfr_search, search_chosen
from openlfr.store import Store
from openlfr.store.models import AuditEntry, RetroCandidate, RetroProbe
from tests.retro.helpers import CELEB, celeb, open_test_case, small_gallery, three_people_video

pytestmark = pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def engine(engine_factory):  # type: ignore[no-untyped-def]
    return engine_factory("opencv-zoo")


def _count(store: Store, col) -> int:  # type: ignore[no-untyped-def]
    with store.session() as s:
        return int(s.scalar(select(func.count(col))) or 0)


def _crops(store: Store, reference: str) -> list[Path]:
    folder = store.blobs.root / case_folder(get_case(store, reference).id)
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_video_of_three_people_keeps_only_the_chosen(store: Store, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=3)
    open_test_case(store, "CR-31")
    clip = three_people_video(tmp_path / "three.mp4")
    with pytest.raises(ChoiceNeeded) as need:
        rfr_search(
            store, engine, "CR-31", "cctv of the robbery", [clip], "ivy (investigator)", provenance="cctv"
        )
    people = need.value.people
    assert len(people) == 3, [p.box for p in people]
    assert all(p.thumbnail_jpeg[:2] == b"\xff\xd8" and 0 < p.quality <= 1 for p in people)
    assert [p.number for p in people] == [1, 2, 3]
    # Nothing of anyone is written before the choice.
    assert _count(store, RetroProbe.id) == 0 and _crops(store, "CR-31") == []

    suspect = min(people, key=lambda p: p.box[0])  # Obama stands on the left
    with pytest.raises(RetroError, match="no person 4"):
        rfr_search(
            store, engine, "CR-31", "cctv", [clip], "ivy (investigator)", provenance="cctv", person=[4]
        )
    faces = rfr_search(
        store,
        engine,
        "CR-31",
        "cctv of the robbery",
        [clip],
        "ivy (investigator)",
        provenance="cctv",
        person=[suspect.number],
    )
    assert len(faces) == 1 and faces[0].candidates[0].record_id == "OB-1"
    # Exactly one probe, one candidate list and one crop: the bystanders left nothing.
    assert _count(store, RetroProbe.id) == 1
    with store.session() as s:
        assert set(s.scalars(select(RetroCandidate.probe_id))) == {faces[0].probe_id}
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "retro.search")).one()
    assert len(_crops(store, "CR-31")) == 1
    assert '"faces":1' in entry.details and '"people_found":3' in entry.details
    assert '"provenance":"cctv"' in entry.details


def test_all_faces_needs_a_reason_and_single_still_goes_straight(store: Store, engine) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=2)
    open_test_case(store, "CR-32")
    group = celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")
    with pytest.raises(ChoiceNeeded):
        rfr_search(store, engine, "CR-32", "still", [group], "ivy (investigator)", provenance="cctv")
    with pytest.raises(RetroError, match="media provenance is required"):
        rfr_search(store, engine, "CR-32", "still", [group], "ivy (investigator)", provenance=None)
    faces = rfr_search(
        store,
        engine,
        "CR-32",
        "still",
        [group],
        "ivy (investigator)",
        provenance="member_of_public",
        all_faces_reason="both men are suspects in the joint enterprise",
    )
    assert {f.candidates[0].record_id for f in faces} >= {"OB-1", "BI-1"}
    with store.session() as s:
        why = set(s.scalars(select(RetroProbe.all_faces_reason)))
    assert why == {"both men are suspects in the joint enterprise"}
    single = celeb(f"{CELEB}/knn_examples/test/obama1.jpg")
    one = rfr_search(store, engine, "CR-32", "still", [single], "ivy (investigator)", provenance="cctv")
    assert len(one) == 1 and one[0].candidates[0].record_id == "OB-1"


def test_pending_choice_is_memory_only_and_the_officers(store: Store, engine, clock) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=2)
    open_test_case(store, "CR-33")
    group = celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")
    token, people, expires = find_people(store, engine, "CR-33", [group], "ivy (investigator)", clock=clock)
    assert len(people) >= 2 and _count(store, RetroProbe.id) == 0 and _crops(store, "CR-33") == []
    assert expires == clock.now + timedelta(minutes=store.settings.retro.people_choice_minutes)
    with pytest.raises(RetroError, match="only the officer who uploaded"):
        search_chosen(
            store, engine, "CR-33", token, "r", "tom (operator)", provenance="cctv", person=[1], clock=clock
        )
    with pytest.raises(RetroError, match="no person 9"):  # a mistyped choice keeps the people waiting
        search_chosen(
            store,
            engine,
            "CR-33",
            token,
            "r",
            "ivy (investigator)",
            provenance="cctv",
            person=[9],
            clock=clock,
        )
    faces = search_chosen(
        store, engine, "CR-33", token, "r", "ivy (investigator)", provenance="cctv", person=[1], clock=clock
    )
    assert len(faces) == 1 and _count(store, RetroProbe.id) == 1
    with pytest.raises(RetroError, match="expired or was already used"):
        search_chosen(
            store,
            engine,
            "CR-33",
            token,
            "r",
            "ivy (investigator)",
            provenance="cctv",
            person=[2],
            clock=clock,
        )
    token, _, _ = find_people(store, engine, "CR-33", [group], "ivy (investigator)", clock=clock)
    clock.advance(minutes=store.settings.retro.people_choice_minutes + 1)
    with pytest.raises(RetroError, match="expired"):
        search_chosen(
            store,
            engine,
            "CR-33",
            token,
            "r",
            "ivy (investigator)",
            provenance="cctv",
            person=[1],
            clock=clock,
        )
    assert _count(store, RetroProbe.id) == 1
