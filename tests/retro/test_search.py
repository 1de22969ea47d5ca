"""RFR (images, tracked video, bounded work, errors, two-reviewer rule, retention) and OIFR (the probe
leaves nothing behind) against a real gallery with the real engine."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from openlfr.governance.errors import NotFound
from openlfr.retro.cases import UseSwitchedOff, case_folder, close_case, get_case, purge_cases
from openlfr.retro.media import Cancelled, RetroError
from openlfr.retro.oifr import oifr_search, record_oifr_outcome, unanswered_oifr
from openlfr.retro.reviews import case_results, probe_image, review_candidate
from openlfr.retro.rfr import rfr_search
from openlfr.store import Store
from openlfr.store.crypto import KeyDestroyed
from openlfr.store.models import AuditEntry, RetroCandidate, RetroProbe
from openlfr.vision import load_image
from tests.conftest import require_data
from tests.retro.helpers import CELEB, celeb, open_test_case, small_gallery


@pytest.fixture(scope="module")
def engine(engine_factory):  # type: ignore[no-untyped-def]
    return engine_factory("opencv-zoo")


def _probes(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count(RetroProbe.id))) or 0)


def _audit(store: Store, action: str) -> list[AuditEntry]:
    with store.session() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_rfr_image_every_face_and_two_reviewers(store: Store, engine, clock, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine)
    scene = celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")
    with pytest.raises(NotFound, match="no case 'CR-9'"):
        rfr_search(store, engine, "CR-9", "why", [scene], "ivy (investigator)", provenance="cctv")
    open_test_case(store, "CR-1", clock=clock)
    with pytest.raises(RetroError, match="needs a reason"):
        rfr_search(store, engine, "CR-1", "  ", [scene], "ivy (investigator)", provenance="cctv")
    corrupt = tmp_path / "cctv.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 200)
    with pytest.raises(RetroError, match=r"cctv\.jpg"):
        rfr_search(
            store,
            engine,
            "CR-1",
            "still from CCTV",
            [scene, corrupt],
            "ivy (investigator)",
            provenance="cctv",
        )
    assert _probes(store) == 0  # the good image before the bad one left nothing behind

    faces = rfr_search(
        store,
        engine,
        "CR-1",
        "still from CCTV",
        [scene],
        "ivy (investigator)",
        provenance="cctv",
        all_faces_reason="both are suspects",
        clock=clock,
    )
    assert len(faces) >= 2
    tops = {f.candidates[0].record_id for f in faces}
    assert {"OB-1", "BI-1"} <= tops
    for f in faces:
        assert [c.rank for c in f.candidates] == list(range(1, len(f.candidates) + 1))
        assert all(a.score >= b.score for a, b in zip(f.candidates, f.candidates[1:], strict=False))
        assert all(c.calibration for c in f.candidates)
    entry = _audit(store, "retro.search")[0]
    assert entry.actor == "ivy" and entry.target == "CR-1" and "still from CCTV" in entry.details

    obama = next(f for f in faces if f.candidates[0].record_id == "OB-1").candidates[0]
    assert obama.id is not None
    assert review_candidate(store, obama.id, "possible match", "rob (reviewer)") == "awaiting second review"
    with pytest.raises(RetroError, match="another reviewer"):
        review_candidate(store, obama.id, "possible_match", "rob (reviewer)")
    assert case_results(store, "CR-1")["reported"] == []  # one reviewer is not enough
    assert review_candidate(store, obama.id, "possible_match", "sue (reviewer)") == "reported possible match"
    other = faces[0].candidates[-1]
    assert other.id is not None
    review_candidate(store, other.id, "no match", "rob (reviewer)")
    assert review_candidate(store, other.id, "possible_match", "sue (reviewer)") == "disputed"
    with pytest.raises(RetroError, match="unknown decision"):
        review_candidate(store, other.id, "yes", "tom (reviewer)")
    res = case_results(store, "CR-1", "rob (reviewer)")
    assert [r["record_id"] for r in res["reported"]] == ["OB-1"]
    assert len(_audit(store, "retro.review")) == 4

    # Retention: after the case's period the purge removes crops, lists, decisions and the key.
    probe_id = faces[0].probe_id
    assert probe_id is not None
    assert probe_image(store, probe_id, "rob (reviewer)")[:2] == b"\xff\xd8"
    clock.advance(days=store.settings.retro.case_retention_days - 1)
    assert purge_cases(store, clock=clock) == []
    clock.advance(days=2)
    # Issue 25: a probe whose candidates nobody decided on sends the case to a supervisor first; it is kept
    # until the escalation period has passed.
    assert purge_cases(store, clock=clock) == []
    assert _audit(store, "retro.case.escalate")[0].target == "CR-1"
    clock.advance(hours=store.settings.retention.escalation_hours - 1)
    assert purge_cases(store, clock=clock) == []
    clock.advance(hours=1)
    assert purge_cases(store, clock=clock) == ["CR-1"]
    assert _probes(store) == 0
    with store.session() as s:
        assert s.scalar(select(func.count(RetroCandidate.id))) == 0
    assert not (store.blobs.root / case_folder(get_case(store, "CR-1").id)).exists()
    with pytest.raises(RetroError, match="purged"):
        case_results(store, "CR-1")
    with pytest.raises((NotFound, KeyDestroyed)):
        probe_image(store, probe_id, "rob (reviewer)")
    assert _audit(store, "retro.case.purge")[0].target == "CR-1"


def _blank_video(path: Path, frames: int, size: int = 64) -> Path:
    with av.open(str(path), "w") as out:
        st = out.add_stream("mpeg4", rate=25)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        for i in range(frames):
            img = np.full((size, size, 3), 40 + i % 50, np.uint8)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_rfr_video_tracks_bounded_and_cancellable(store: Store, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=2)
    open_test_case(store, "CR-2", crime_category="violence")
    clip = require_data("videos", "face_recognition__short_hamilton_clip.mp4")
    store.settings.retro.video_frame_budget = 40  # a long video is sampled down to the budget
    seen: list[tuple[int, int]] = []
    faces = rfr_search(
        store,
        engine,
        "CR-2",
        "phone clip",
        [clip],
        "ivy (investigator)",
        provenance="phone_victim_witness",
        all_faces_reason="the witness could not say which of them hit her",
        progress=lambda d, p: seen.append((d, p)),
    )
    assert seen and seen[-1][1] <= 40 and seen[-1][0] <= 40
    assert faces and all(f.frame_index is not None for f in faces)
    # One list per person, not per frame: far fewer faces than frames analysed with a face.
    assert len(faces) < seen[-1][0]
    n = _probes(store)

    cancel = threading.Event()

    def stop_early(done: int, planned: int) -> None:
        if done >= 3:
            cancel.set()

    with pytest.raises(Cancelled, match="nothing stored"):
        rfr_search(
            store,
            engine,
            "CR-2",
            "again",
            [clip],
            "ivy (investigator)",
            provenance="cctv",
            person=[1],
            progress=stop_early,
            cancel=cancel,
        )
    assert _probes(store) == n

    long_blank = _blank_video(tmp_path / "empty.mp4", frames=400)
    store.settings.retro.video_frame_budget = 25
    planned: list[int] = []
    with pytest.raises(RetroError, match="no face found in 25 analysed frames"):
        rfr_search(
            store,
            engine,
            "CR-2",
            "x",
            [long_blank],
            "ivy (investigator)",
            provenance="cctv",
            person=[1],
            progress=lambda d, p: planned.append(p),
        )
    assert max(planned) == 25
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\0\0\0\x18ftypmp42" + b"garbage" * 50)
    with pytest.raises(RetroError, match=r"broken\.mp4"):
        rfr_search(store, engine, "CR-2", "x", [bad], "ivy (investigator)", provenance="cctv")
    assert _probes(store) == n


def test_oifr_leaves_nothing_of_the_probe(store: Store, engine, caplog) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine)
    photo_path = celeb(f"{CELEB}/knn_examples/test/obama1.jpg")
    original = photo_path.read_bytes()
    template = engine.analyse(load_image(original))[0].embedding.astype(np.float32)
    with pytest.raises(RetroError, match="needs a reason, one of: unconscious"):
        oifr_search(store, engine, bytearray(original), "", "pc kay (officer)")
    with pytest.raises(RetroError, match="not one of the OIFR reasons"):
        oifr_search(store, engine, bytearray(original), "curious", "pc kay (officer)")

    def files() -> dict[str, int]:
        root = store.settings.data_dir
        return {
            str(p.relative_to(root)): p.stat().st_size
            for p in root.rglob("*")
            # The signed audit checkpoints (row count, head hash) grow with the audited search itself.
            if p.is_file() and "openlfr.db" not in p.name and "audit-checkpoints" not in p.parts
        }

    before = files()
    photo = bytearray(original)
    caplog.set_level(logging.DEBUG)
    result = oifr_search(store, engine, photo, "unconscious", "pc kay (officer)")
    assert len(result.candidates) == store.settings.retro.oifr_top_k == 6
    assert result.candidates[0].record_id == "OB-1"
    out = result.as_dict()
    assert [c["rank"] for c in out["faces"][0]["candidates"]] == [1, 2, 3, 4, 5, 6]
    # The probe in memory is overwritten.
    assert not any(photo)
    # Disk: no new or changed file besides the database.
    assert files() == before
    # Database: no probe row, and neither the image nor the template's bytes anywhere in it.
    assert _probes(store) == 0
    if store.dialect == "sqlite":
        db = store.settings.data_dir / "openlfr.db"
        raw = b"".join(p.read_bytes() for p in db.parent.glob("openlfr.db*"))
        assert original[100:164] not in raw
        assert template.tobytes()[:32] not in raw
        assert np.float16(template).tobytes()[:32] not in raw
    # Logs: nothing of it.
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert str(template[0])[:6] not in text and "obama1" not in text
    # Audited: officer, reason, time and the records shown, never the face.
    e = _audit(store, "oifr.search")[0]
    assert e.actor == "pc kay" and '"reason":"unconscious"' in e.details.replace(" ", "") and e.at is not None
    assert "OB-1" in e.details

    # A failed OIFR search (no face) also wipes the photo.
    blank = bytearray(cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))[1].tobytes())
    with pytest.raises(RetroError, match="no face found"):
        oifr_search(store, engine, blank, "false_details", "pc kay (officer)")
    assert not any(blank)


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_case_closed_early_purges_at_once(store: Store, engine, clock) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=2)
    open_test_case(store, "CR-4", clock=clock)
    single = celeb(f"{CELEB}/knn_examples/test/obama1.jpg")
    faces = rfr_search(store, engine, "CR-4", "cctv", [single], "ivy (investigator)", provenance="cctv")
    cand = faces[0].candidates[0]
    assert cand.id is not None
    review_candidate(store, cand.id, "possible_match", "rob (reviewer)")
    with pytest.raises(RetroError, match="only the officer who opened"):
        close_case(store, "CR-4", "suspect charged", "tom (operator)")
    with pytest.raises(RetroError, match="needs a reason"):
        close_case(store, "CR-4", " ", "ivy (investigator)")
    info = close_case(store, "CR-4", "suspect charged", "ivy (investigator)", clock=clock)
    assert info.closed_by == "ivy (investigator)" and info.purged_at == clock.now
    assert _probes(store) == 0
    with store.session() as s:
        assert s.scalar(select(func.count(RetroCandidate.id))) == 0
    assert not (store.blobs.root / case_folder(info.id)).exists()
    with pytest.raises(RetroError, match="closed and purged"):
        case_results(store, "CR-4")
    assert _audit(store, "retro.case.close")[0].target == "CR-4"
    # A supervisor may close another officer's case; the retention purge then has nothing left to do.
    open_test_case(store, "CR-5")
    close_case(store, "CR-5", "no further action", "sam (authorising_officer)")
    clock.advance(days=store.settings.retro.case_retention_days + 1)
    assert purge_cases(store, clock=clock) == []


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_oifr_outcome_recorded_and_unanswered_chased(store: Store, engine, clock) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=2)
    photo = celeb(f"{CELEB}/knn_examples/test/obama1.jpg").read_bytes()
    res = oifr_search(store, engine, bytearray(photo), "unconscious", "pc kay (officer)", clock=clock)
    assert res.id and res.as_dict()["id"] == res.id
    assert unanswered_oifr(store, clock=clock) == []  # not yet overdue
    clock.advance(hours=store.settings.retro.oifr_outcome_chase_hours + 1)
    assert [u.id for u in unanswered_oifr(store, clock=clock)] == [res.id]
    with pytest.raises(RetroError, match="needs the record"):
        record_oifr_outcome(store, res.id, "identified", "pc kay (officer)")
    with pytest.raises(RetroError, match="was not on the list"):
        record_oifr_outcome(store, res.id, "identified", "pc kay (officer)", record_id="ZZ-9")
    with pytest.raises(RetroError, match="only the officer who ran"):
        record_oifr_outcome(store, res.id, "not identified", "pc lee (officer)")
    out = record_oifr_outcome(store, res.id, "identified", "pc kay (officer)", record_id="OB-1", clock=clock)
    assert out["outcome"] == "identified" and out["recorded_at"] == clock.now.isoformat()
    with pytest.raises(RetroError, match="already recorded"):
        record_oifr_outcome(store, res.id, "inconclusive", "pc kay (officer)")
    assert unanswered_oifr(store, clock=clock) == []
    e = _audit(store, "oifr.outcome")[0]
    assert e.actor == "pc kay" and '"outcome":"identified"' in e.details


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_switched_off_refuses_and_wipes_the_photo(store: Store, engine) -> None:  # type: ignore[no-untyped-def]
    small_gallery(store, engine, distractors=1)
    open_test_case(store, "CR-6")
    store.settings.retro.oifr_enabled = False
    photo = bytearray(celeb(f"{CELEB}/knn_examples/test/obama1.jpg").read_bytes())
    with pytest.raises(UseSwitchedOff, match=r"OIFR\) is switched off"):
        oifr_search(store, engine, photo, "unconscious", "pc kay (officer)")
    assert not any(photo)
    store.settings.retro.rfr_enabled = False
    with pytest.raises(UseSwitchedOff, match=r"RFR\) is switched off"):
        open_test_case(store, "CR-7")
    single = celeb(f"{CELEB}/knn_examples/test/obama1.jpg")
    with pytest.raises(UseSwitchedOff):
        rfr_search(store, engine, "CR-6", "cctv", [single], "ivy (investigator)", provenance="cctv")
    assert _probes(store) == 0 and _audit(store, "oifr.search") == []
