"""The live pipeline's stages, each on its own, on real photos with the real default pack: detect, assess
quality, embed, search, and the policy taking a frame's results once (issue 28: one pass per frame)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest

from openlfr.config import LiveSettings, Settings
from openlfr.live.evidence import FrameResults, fuse
from openlfr.live.policy import AlertPolicy
from openlfr.live.sources import Frame
from openlfr.live.stages import (
    EmbedBudget,
    assess_quality,
    choose_to_embed,
    detect,
    embed,
    near_threshold,
    search,
)
from openlfr.live.tracker import FaceTracker, Track, iou_matrix
from openlfr.matching.watchlist_index import WatchlistIndex
from openlfr.vision import FaceEngine, best_face, load_image
from tests.conftest import require_data
from tests.live.conftest import EXAMPLES, MIRANDA
from tests.live.test_tracker_policy import _search, face

LIVE = LiveSettings()
SETTINGS = Settings()


def _frame(image: np.ndarray, index: int = 0) -> Frame:
    frame = Frame(image, index, index / 25, datetime(2030, 1, 1, tzinfo=UTC), captured_mono=0.0)
    frame.prepare(SETTINGS.vision.working_width)
    return frame


@pytest.fixture(scope="module")
def two_people() -> np.ndarray:
    return load_image(require_data(*EXAMPLES, "two_people.jpg"))


@pytest.fixture(scope="module")
def watchlist(engine: FaceEngine) -> WatchlistIndex:
    """Miranda and Biden, enrolled from their reference photos."""
    templates = []
    for parts in (MIRANDA, (*EXAMPLES, "biden.jpg")):
        img = load_image(require_data(*parts))
        face = best_face(engine.analyse(img, pad=0.25), img.shape)
        assert face is not None and face.embedding is not None
        templates.append(face.embedding)
    return WatchlistIndex(np.stack(templates), ["lin_manuel_miranda", "biden"])


def _tracks(frame: Frame, engine: FaceEngine) -> list[Track]:
    tracks, _ = FaceTracker().update(detect(frame, engine, SETTINGS.vision), frame.media_s)
    return tracks


def test_detect_finds_the_faces_at_full_resolution_from_the_working_copy(
    engine: FaceEngine, two_people: np.ndarray
) -> None:
    # The photo at twice its size: detection runs on the reduced copy, boxes come back at full size.
    big = np.ascontiguousarray(np.repeat(np.repeat(two_people, 2, axis=0), 2, axis=1))
    small, large = _frame(two_people), _frame(big)
    assert large.work is not None and large.work.shape[1] < big.shape[1]
    at_small, at_large = detect(small, engine, SETTINGS.vision), detect(large, engine, SETTINGS.vision)
    assert len(at_small) == len(at_large) == 2
    iou = iou_matrix(np.stack([f.box for f in at_small]), np.stack([f.box / 2 for f in at_large]))
    assert (iou.max(axis=1) > 0.8).all(), "the same faces, in the large frame's coordinates"


def test_assess_quality_returns_new_best_shots_and_writes_no_evidence(
    engine: FaceEngine, two_people: np.ndarray
) -> None:
    frame = _frame(two_people)
    tracks = _tracks(frame, engine)
    policy = AlertPolicy(0.5, 2, 0.0)
    assessed = assess_quality(frame, tracks, engine, policy.known(tracks), LIVE, SETTINGS.quality.min_face_px)
    assert [a.track for a in assessed] == tracks
    assert all(tr.face.quality is not None for tr in tracks), "each track's face is now its assessed face"
    shots = [a for a in assessed if a.crop is not None]
    assert shots, "a sharp frontal face is a best shot"
    for a in shots:
        assert a.frame_crop is not None and a.frame_crop.shape[0] > a.crop.shape[0]
        assert a.quality == a.track.face.quality.score  # type: ignore[union-attr]
    assert policy.held_track_ids() == set(), "stages only read the evidence"
    # Taken by the policy, the best shots are the tracks' evidence; the same faces again are no better.
    policy.take(FrameResults(0, 0.0, tracks, assessed))
    assert all(policy.evidence(a.track).best_crop is a.crop for a in shots)
    again = assess_quality(frame, tracks, engine, policy.known(tracks), LIVE, SETTINGS.quality.min_face_px)
    assert all(a.crop is None for a in again)
    # A worker with no room at all measures nothing.
    assert (
        assess_quality(
            frame, tracks, engine, policy.known(tracks), LIVE, SETTINGS.quality.min_face_px, limit=0
        )
        == []
    )


def test_embed_and_search_find_the_person_and_the_policy_takes_the_frame_once(
    engine: FaceEngine, watchlist: WatchlistIndex
) -> None:
    """Miranda's own photo as two frames: the searches find him, the fused probe is what the evidence
    holds after the policy took each frame, and he alerts once he has his two searches (min_hits)."""
    image = load_image(require_data(*MIRANDA))
    policy = AlertPolicy(0.5, 2, 0.0, aggregation="fused", keep=3)
    tracker = FaceTracker()
    positions = {s: i for i, s in enumerate(watchlist.subjects)}
    decisions = []
    live = LIVE.model_copy(update={"confirm_every_frames": 1})
    for i in range(2):
        frame = _frame(image, i)
        tracks, _ = tracker.update(detect(frame, engine, SETTINGS.vision), frame.media_s)
        assessed = assess_quality(
            frame, tracks, engine, policy.known(tracks), LIVE, SETTINGS.quality.min_face_px
        )
        choice = choose_to_embed(
            tracks, policy.known(tracks), live, i, min_face_px=SETTINGS.quality.min_face_px
        )
        assert [t.id for t in choice.tracks] == [tracks[0].id] and choice.shed == 0
        embedded = embed(frame, choice.tracks, engine, LIVE.refine_below_px)
        assert len(embedded) == 1 and embedded[0].embedding is not None
        searched = search(choice.tracks, embedded, watchlist, policy.known(tracks), LIVE.search_top_k)
        assert searched[0].top[0].subject_id == "lin_manuel_miranda"
        probe_before = fuse(searched[0].shots)
        results = FrameResults(i, float(i), tracks, assessed, searched, positions)
        decisions.append([d.subject_id for d in policy.take(results)])
        ev = policy.evidence(tracks[0])
        assert ev.searches == i + 1 and ev.last_search_frame == i
        fused = ev.fused()
        assert fused is not None and np.allclose(fused, probe_before)
    assert decisions == [[], ["lin_manuel_miranda"]]


def test_the_flip_screen_flip_tests_a_face_near_a_subject_and_not_a_stranger(
    engine: FaceEngine, watchlist: WatchlistIndex
) -> None:
    """live.flip_screen: Miranda's face, whose probe scores within the margin of his template, is embedded
    flip-tested (as calibrated: the same embedding as without the screen); a stranger's face, far from both
    subjects, is searched as embedded alone."""
    policy = AlertPolicy(0.5, 2, 0.0, aggregation="fused", keep=3)
    stranger = ("lfw", "images", "AJ_Cook", "AJ_Cook_0001.jpg")
    picked = {}
    for name, parts in (("miranda", MIRANDA), ("stranger", stranger)):
        frame = _frame(load_image(require_data(*parts)))
        track = max(_tracks(frame, engine), key=lambda t: t.face.size)
        known = policy.known([track])
        screen = near_threshold([track], watchlist, known, 0.5 - LIVE.flip_screen_margin)
        screened = embed(frame, [track], engine, LIVE.refine_below_px, screen)[0].embedding
        flip_tested = embed(frame, [track], engine, LIVE.refine_below_px)[0].embedding
        assert screened is not None and flip_tested is not None
        picked[name] = bool(np.allclose(screened, flip_tested, atol=1e-5))
        best = search([track], [replace(track.face, embedding=screened)], watchlist, known, 1)[0]
        assert (best.top[0].score >= 0.5 - LIVE.flip_screen_margin) == picked[name], (name, best.top[0].score)
    assert picked == {"miranda": True, "stranger": False}


def test_the_policy_decides_only_in_a_frame_that_searched() -> None:
    tracker = FaceTracker()
    policy = AlertPolicy(0.5, 1, 0.0)
    (a,), _ = tracker.update([face(0, 0)], 0.0)
    _search(policy, a, {"alice": 0.9, "bob": 0.8})
    assert policy.take(FrameResults(1, 0.0, [a])) == [], "no search in this frame: no decision"
    assert [d.subject_id for d in policy.decide([a], 0.0)] == ["alice"]


def test_choose_to_embed_counts_what_a_worker_with_no_room_leaves_out() -> None:
    tracker = FaceTracker()
    policy = AlertPolicy(0.5, 2, 0.0)
    tracks, _ = tracker.update([face(0, 0), face(200, 0)], 0.0)
    # Behind with no room: the faces were not even measured, and both (never searched) were due.
    choice = choose_to_embed(tracks, policy.known(tracks), LIVE, 0, limit=0, min_face_px=40)
    assert choice.tracks == [] and choice.shed == 2
    assert (
        choose_to_embed(tracks, policy.known(tracks), LIVE, 0, limit=0, min_face_px=100).shed == 0
    )  # too small


def test_the_embed_budget_limits_a_worker_behind_and_none_on_time() -> None:
    _check_the_embed_budget(
        LiveSettings(max_queue_frames=2, shed_headroom_frames=0, max_embeds_per_frame=3, shed_max_wait_s=10.0)
    )
    # A slot of 6 with its default 4 frames kept back for overruns plans its embeddings into the same 2.
    _check_the_embed_budget(LiveSettings(max_queue_frames=6, max_embeds_per_frame=3, shed_max_wait_s=10.0))
    # 150 ms late, the 6-frame slot has room for all 3 with nothing kept back, and none with 4 kept back.
    for headroom, fits in ((0, 3), (4, 0)):
        live = LiveSettings(
            max_queue_frames=6, shed_headroom_frames=headroom, max_embeds_per_frame=3, shed_max_wait_s=10.0
        )
        behind = _budget_frame(3, time.monotonic() - 0.15)
        assert _measured_budget(live).limit(behind, ONE_TRACK) == fits, f"{headroom} kept back"


ONE_TRACK = [Track(1, face(0, 0), 0.0, 0.0)]


def _budget_frame(index: int, captured_mono: float) -> Frame:
    """Frame ``index`` of a 25 fps source (40 ms apart), captured at ``captured_mono``."""
    image, at = np.zeros((8, 8, 3), np.uint8), datetime(2030, 1, 1, tzinfo=UTC)
    return Frame(image, index, index * 0.04, at, captured_mono=captured_mono)


def _measured_budget(live: LiveSettings) -> EmbedBudget:
    """A budget that has seen three frames 40 ms apart, each embedding one face in 10 ms (no limit before
    anything was measured)."""
    budget = EmbedBudget(live, sheds=True)
    now = time.monotonic()
    last_end = None
    for i in range(3):
        budget.start(last_end)
        limit = budget.limit(_budget_frame(i, now - 0.12 + 0.04 * i), ONE_TRACK)
        assert i > 0 or limit is None
        budget.embedded(1, 0.01)
        last_end = time.perf_counter()
    return budget


def _check_the_embed_budget(live: LiveSettings) -> None:
    """Planned into 2 frames: captured just now, all 3 fit; a second late, none; never for a worker that
    cannot drop frames, or for a frame without faces."""
    budget = _measured_budget(live)
    now = time.monotonic()
    assert budget.interval_s == pytest.approx(0.04) and budget.embed_s == pytest.approx(0.01)
    # Captured just now: 2.5 intervals (100 ms) of headroom hold the 3 a frame may embed; late, none fits.
    assert budget.limit(_budget_frame(3, now), ONE_TRACK) == 3
    late = _budget_frame(4, time.monotonic() - 1.0)
    assert budget.limit(late, ONE_TRACK) == 0
    assert EmbedBudget(live, sheds=False).limit(late, ONE_TRACK) is None, "a worker that cannot drop frames"
    assert budget.limit(_budget_frame(5, time.monotonic()), []) is None, "no faces"
