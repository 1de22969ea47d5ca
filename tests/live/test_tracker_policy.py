"""Tracker and alert policy logic on constructed faces (pure functions of boxes and scores)."""

from __future__ import annotations

import numpy as np

from openlfr.config import LiveSettings
from openlfr.live.policy import AlertPolicy
from openlfr.live.stages import choose_to_assess, choose_to_embed, embeds_that_fit
from openlfr.live.tracker import FaceTracker, iou_matrix
from openlfr.matching.watchlist_index import Candidate, WatchlistIndex
from openlfr.vision import Face, Quality


def face(x: float, y: float, w: float = 60.0) -> Face:
    box = np.array([x, y, x + w, y + w], np.float32)
    lm = np.array(
        [
            [x + 0.3 * w, y + 0.4 * w],
            [x + 0.7 * w, y + 0.4 * w],
            [x + 0.5 * w, y + 0.6 * w],
            [x + 0.35 * w, y + 0.8 * w],
            [x + 0.65 * w, y + 0.8 * w],
        ],
        np.float32,
    )
    return Face(box=box, landmarks=lm, detector_score=0.9)


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])


def test_tracks_keep_their_ids_while_moving_and_end_when_unseen() -> None:
    tr = FaceTracker(iou_threshold=0.3, max_age_s=0.5)
    ids = []
    for i in range(10):  # two people walking in opposite directions, 8 px per frame at 25 fps
        current, ended = tr.update([face(100 + 8 * i, 100), face(600 - 8 * i, 300)], i / 25)
        ids.append([t.id for t in current])
        assert not ended
    assert all(row == ids[0] for row in ids) and len(set(ids[0])) == 2
    # A fast face whose boxes no longer overlap is still followed (motion prediction).
    current, _ = tr.update([face(100 + 8 * 10 + 30, 100)], 10 / 25)
    assert current[0].id == ids[0][0]
    # Nobody for longer than max_age: both tracks end; a new face gets a new id.
    current, ended = tr.update([face(900, 50)], 2.0)
    assert sorted(t.id for t in ended) == sorted(ids[0])
    assert current[0].id not in ids[0]
    assert tr.tracks_started == 3


def _search(policy: AlertPolicy, track, scores: dict[str, float], weight: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    subjects = sorted(scores)
    row = np.array([scores[s] for s in subjects], np.float32)
    top = sorted((Candidate(s, scores[s], 0, i) for i, s in enumerate(subjects)), key=lambda c: -c.score)[:3]
    policy.add_search(track, top, row, {s: i for i, s in enumerate(subjects)}, weight)


def test_policy_needs_min_hits_then_alerts_once_per_cooldown() -> None:
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=60)
    (t1,), _ = tr.update([face(0, 0)], 0.0)
    _search(policy, t1, {"alice": 0.7, "bob": 0.2})
    assert policy.pending(t1)
    assert policy.decide([t1], at_s=0.0) == []  # one hit is not enough
    _search(policy, t1, {"alice": 0.6, "bob": 0.1})
    (d,) = policy.decide([t1], at_s=0.1)
    assert d.subject_id == "alice" and abs(d.score - 0.65) < 1e-6
    assert policy.decide([t1], at_s=0.2) == []  # a track alerts for a subject once
    # Another track of the same subject on the same camera inside the cooldown: suppressed and counted.
    (t2,), _ = tr.update([face(0, 0)], 5.0)
    _search(policy, t2, {"alice": 0.8})
    _search(policy, t2, {"alice": 0.8})
    assert policy.decide([t2], at_s=30.0) == [] and policy.suppressed == 1
    # After the cooldown a new track alerts again.
    (t3,), _ = tr.update([face(0, 0)], 70.0)
    _search(policy, t3, {"alice": 0.8})
    _search(policy, t3, {"alice": 0.8})
    assert [d.subject_id for d in policy.decide([t3], at_s=70.0)] == ["alice"]


def test_aggregate_is_weighted_by_face_size_and_quality() -> None:
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0)
    (t,), _ = tr.update([face(0, 0)], 0.0)
    _search(policy, t, {"alice": 0.9}, weight=1.0)  # a small, poor shot that happens to score high
    _search(policy, t, {"alice": 0.55}, weight=1.0)
    _search(policy, t, {"alice": 0.2}, weight=20.0)  # a big, sharp frontal shot: clearly not her
    assert policy.decide([t], at_s=0.0) == []


def test_one_subject_per_face_and_one_face_per_subject_in_a_frame() -> None:
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=1, cooldown_s=0)
    a, b = tr.update([face(0, 0), face(300, 0)], 0.0)[0]
    _search(policy, a, {"alice": 0.9, "carol": 0.8})
    _search(policy, b, {"alice": 0.7, "carol": 0.6})
    decisions = policy.decide([a, b], at_s=0.0)
    pairs = {(d.track.id, d.subject_id) for d in decisions}
    # alice goes to the better face a; a then cannot also be carol; b cannot also be alice, so b is carol.
    assert pairs == {(a.id, "alice"), (b.id, "carol")}


def _unit(v: list[float]) -> np.ndarray:
    a = np.asarray(v, np.float32)
    return a / np.linalg.norm(a)


def test_fused_evidence_is_the_weighted_mean_of_the_heaviest_shots_and_is_dropped_at_the_end() -> None:
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0, aggregation="fused", keep=2)
    (t,), _ = tr.update([face(0, 0)], 0.0)
    policy.add_shot(t, _unit([1, 0, 0]), 1.0)  # the lightest: dropped once two heavier shots are kept
    policy.add_shot(t, _unit([0, 1, 0]), 3.0)
    policy.add_shot(t, _unit([0, 0, 1]), 1.5)
    ev = policy.evidence(t)
    assert [w for w, _ in ev.shots] == [3.0, 1.5]
    fused = ev.fused()
    assert fused is not None and np.allclose(fused, [0, 3 / 4.5, 1.5 / 4.5])
    # In fused mode each search of the fused template replaces the subject's score; one search is not
    # enough (min_hits = 2 searches), two are.
    _search(policy, t, {"alice": 0.7})
    assert policy.pending(t) and policy.decide([t], at_s=0.0) == []
    _search(policy, t, {"alice": 0.55})
    (d,) = policy.decide([t], at_s=0.0)
    assert abs(d.score - 0.55) < 1e-6
    policy.end([t])
    assert policy.held_track_ids() == set() and not ev.holds_biometrics


def test_max_aggregation_keeps_the_best_search_and_needs_min_hits_above_threshold() -> None:
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0, aggregation="max")
    (t,), _ = tr.update([face(0, 0)], 0.0)
    _search(policy, t, {"alice": 0.8})
    _search(policy, t, {"alice": 0.3})
    assert policy.decide([t], at_s=0.0) == []  # one search above threshold is not two
    _search(policy, t, {"alice": 0.52})
    (d,) = policy.decide([t], at_s=0.0)
    assert abs(d.score - 0.8) < 1e-6


def _assessed(f: Face, score: float = 0.8, acceptable: bool = True) -> Face:
    return f.with_quality(
        Quality(score, f.size, 20.0, 100.0, 120.0, 0.0, 0.0, 0.0, () if acceptable else ("blurred",))
    )


def test_choose_to_embed_searches_new_tracks_grown_faces_and_never_below_the_quality_bar() -> None:
    live = LiveSettings(reembed_growth=1.25, max_embeds_per_frame=2, reembed_quality_gain=0.1)
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0)
    a, b, c = tr.update([face(0, 0, 40), face(200, 0, 40), face(400, 0, 40)], 0.0)[0]
    for t in (a, b, c):
        t.face = _assessed(t.face)
    c.face = _assessed(c.face, acceptable=False)
    # New tracks first, at most two a frame; the face below the bar is never chosen.
    assert choose_to_embed([a, b, c], policy.known([a, b, c]), live, 0).tracks == [a, b]
    for t in (a, b):
        ev = policy.evidence(t)
        ev.searches, ev.embedded_size, ev.embedded_quality, ev.last_search_frame = 1, 40.0, 0.8, 0
    a.face = _assessed(face(0, 0, 49))  # 1.22x: not yet
    b.face = _assessed(face(200, 0, 50))  # 1.25x: the closer face is searched again
    assert choose_to_embed([a, b], policy.known([a, b]), live, 1).tracks == [b]
    # With growth off only a quality gain brings a track back.
    off = live.model_copy(update={"reembed_growth": 1e9})
    assert choose_to_embed([a, b], policy.known([a, b]), off, 1).tracks == []
    a.face = _assessed(face(0, 0, 49), score=0.95)
    assert choose_to_embed([a, b], policy.known([a, b]), off, 1).tracks == [a]
    assert choose_to_assess([a, b], policy.known([a, b]), live, min_face_px=45) == [a, b]
    assert choose_to_assess([a, b], policy.known([a, b]), live, min_face_px=60) == []


def test_one_search_gives_the_top_k_and_every_subjects_score() -> None:
    rng = np.random.default_rng(0)
    templates = rng.normal(size=(7, 16)).astype(np.float32)
    ids = ["a", "b", "a", "c", "d", "b", "e"]  # several templates for some subjects
    probes = rng.normal(size=(4, 16)).astype(np.float32)
    offsets = np.array([0, 0.2, 0, 0, 0.1, 0, 0], np.float32)  # two templates with attraction offsets
    for fusion in ("max", "mean"):  # the live search scores as the configured fusion says, offsets applied
        index = WatchlistIndex(templates, ids, fusion=fusion, offsets=offsets)
        tops, scores = index.search_with_scores(probes, k=3)
        assert np.allclose(scores, index.subject_scores(probes))
        assert tops == index.search(probes, k=3)
        assert [c.score for c in tops[0]] == sorted(scores[0], reverse=True)[:3]


def test_an_alerted_track_is_not_searched_again_and_periodic_search_brings_others_back() -> None:
    live = LiveSettings(research_every_frames=4)
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=1, cooldown_s=0)
    a, b = tr.update([face(0, 0, 40), face(200, 0, 40)], 0.0)[0]
    for t in (a, b):
        t.face = _assessed(t.face)
        ev = policy.evidence(t)
        ev.searches, ev.embedded_size, ev.embedded_quality, ev.last_search_frame = 1, 40.0, 0.8, 0
    _search(policy, a, {"alice": 0.9})
    _search(policy, b, {"alice": 0.2})
    assert [d.track for d in policy.decide([a, b], at_s=0.0)] == [a]
    assert choose_to_embed([a, b], policy.known([a, b]), live, 3).tracks == []
    # b scores far below the threshold (0.5 - research_margin 0.15): not searched over and over ...
    assert choose_to_embed([a, b], policy.known([a, b]), live, 4).tracks == []
    # ... until it comes within the margin.
    _search(policy, b, {"alice": 0.2, "bob": 0.4})
    assert choose_to_embed([a, b], policy.known([a, b]), live, 8).tracks == [b]


def test_a_face_failing_the_bar_only_for_sharpness_is_searched_when_search_blurred_is_on() -> None:
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0)
    soft, turned, sharp = tr.update([face(0, 0, 60), face(200, 0, 60), face(400, 0, 60)], 0.0)[0]
    q = (0.7, 60.0, 20.0, 19.0, 120.0, 0.0, 0.0, 0.0)
    soft.face = soft.face.with_quality(Quality(*q, ("blurred: sharpness 19 < 40",)))
    turned.face = turned.face.with_quality(
        Quality(*q, ("blurred: sharpness 19 < 40", "head turned: yaw +50° beyond ±40°"))
    )
    sharp.face = _assessed(sharp.face)
    on = LiveSettings(search_blurred=True, max_embeds_per_frame=8)
    off = on.model_copy(update={"search_blurred": False})
    assert choose_to_embed([soft, turned, sharp], policy.known([soft, turned, sharp]), off, 0).tracks == [
        sharp
    ]
    # Only sharpness failing: searched (the calibration's still images include such faces); a face that
    # also fails another measure stays unsearched.
    assert [
        t.id
        for t in choose_to_embed([soft, turned, sharp], policy.known([soft, turned, sharp]), on, 0).tracks
    ] == [soft.id, sharp.id]


def test_by_default_a_track_near_the_threshold_is_searched_again_two_frames_later() -> None:
    live = LiveSettings()  # the shipped defaults (chosen by benchmarks/live_ablation.py)
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0)
    (a,), _ = tr.update([face(0, 0, 60)], 0.0)
    a.face = _assessed(a.face)
    ev = policy.evidence(a)
    ev.searches, ev.embedded_size, ev.embedded_quality, ev.last_search_frame = 1, 60.0, 0.8, 10
    _search(policy, a, {"alice": 0.45})  # below the threshold, within the margin: a close-up may reach it
    assert choose_to_embed([a], policy.known([a]), live, 11).tracks == []
    assert choose_to_embed([a], policy.known([a]), live, 12).tracks == [a]


def test_a_worker_behind_embeds_only_what_fits_new_tracks_first_and_the_rest_on_later_frames() -> None:
    live = LiveSettings(max_embeds_per_frame=3, shed_max_wait_s=0.3)
    # Nothing measured yet: no limit. Otherwise as many as fit in the headroom, at most the per-frame cap.
    assert embeds_that_fit(0.0, None, 0.0, live) is None
    assert embeds_that_fit(0.15, 0.065, 0.0, live) == 2
    assert embeds_that_fit(1.0, 0.065, 0.0, live) == 3
    assert embeds_that_fit(0.05, 0.065, 0.0, live) == 0
    assert embeds_that_fit(-0.2, 0.065, 0.1, live) == 0  # already late: nothing more this frame ...
    assert embeds_that_fit(-0.2, 0.065, 0.3, live) == 1  # ... unless faces waited too long: searching goes on

    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0)
    old, small, large = tr.update([face(0, 0, 50), face(200, 0, 40), face(400, 0, 80)], 0.0)[0]
    for t in (old, small, large):
        t.face = _assessed(t.face)
    ev = policy.evidence(old)
    ev.searches, ev.embedded_size, ev.embedded_quality, ev.last_search_frame = (
        1,
        40.0,
        0.8,
        0,
    )  # it grew 1.25x
    assert choose_to_embed([old, small, large], policy.known([old, small, large]), live, 1).tracks == [
        large,
        small,
        old,
    ]
    # Behind, room for one: the new tracks go first, the larger face first; the others are not marked in
    # any way, so they are chosen again on the next frame.
    assert choose_to_embed(
        [old, small, large], policy.known([old, small, large]), live, 1, limit=1
    ).tracks == [large]
    assert (
        choose_to_embed([old, small, large], policy.known([old, small, large]), live, 1, limit=0).tracks == []
    )
    policy.evidence(large).searches, policy.evidence(large).last_search_frame = 1, 1
    policy.evidence(large).embedded_size, policy.evidence(large).embedded_quality = 80.0, 0.8
    assert choose_to_embed(
        [old, small, large], policy.known([old, small, large]), live, 2, limit=1
    ).tracks == [small]
    assert choose_to_embed([old, small, large], policy.known([old, small, large]), live, 2).tracks == [
        small,
        old,
    ]
    # A match awaiting confirmation is one search from an alert: behind, it goes before the new track; with
    # room, the order is the usual one (new tracks first).
    _search(policy, old, {"alice": 0.6})
    assert policy.pending(old)
    assert choose_to_embed(
        [old, small, large], policy.known([old, small, large]), live, 4, limit=1
    ).tracks == [old]
    assert choose_to_embed([old, small, large], policy.known([old, small, large]), live, 4).tracks == [
        small,
        old,
    ]


def test_a_worker_behind_skips_only_the_periodic_quality_re_measure() -> None:
    live = LiveSettings(reassess_every_frames=5)
    tr = FaceTracker()
    policy = AlertPolicy(threshold=0.5, min_hits=2, cooldown_s=0)
    searched, new = tr.update([face(0, 0, 60), face(200, 0, 60)], 0.0)[0]
    ev = policy.evidence(searched)
    ev.searches, ev.assessed_size = 1, 60.0
    searched.frames = 10  # the periodic re-measure is due
    assert choose_to_assess([searched, new], policy.known([searched, new]), live, 20) == [searched, new]
    assert choose_to_assess([searched, new], policy.known([searched, new]), live, 20, behind=True) == [new]
    _search(policy, searched, {"alice": 0.6})  # an unconfirmed match is measured even when behind
    assert choose_to_assess([searched, new], policy.known([searched, new]), live, 20, behind=True) == [
        searched,
        new,
    ]
