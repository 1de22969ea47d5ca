"""WatchlistIndex row mapping: which enrolled reference a candidate points at (issue 17 item 7).

Templates arrive in enrolment order, with one subject's references scattered among others'; the index
regroups them by subject internally. ``Candidate.template_index`` must still name the row as given, since
that row is what the officer is shown beside the probe.
"""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.matching.watchlist_index import WatchlistIndex


def _random_unit(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_each_row_maps_back_to_itself_whatever_the_subject_order() -> None:
    rng = np.random.default_rng(7)
    subjects = ["B", "A", "B", "C", "A", "B", "D", "C"]
    templates = _random_unit(rng, len(subjects), 64)
    index = WatchlistIndex(templates, subjects)
    assert index.subjects == ["A", "B", "C", "D"] and index.template_count == 8
    for row, sid in enumerate(subjects):
        # A probe close to one reference (not identical: noise), so that reference is the best row.
        probe = templates[row] + 0.05 * rng.standard_normal(64).astype(np.float32)
        top = index.search(probe, k=4)[0]
        assert top[0].subject_id == sid
        assert top[0].template_index == row, f"row {row} of {sid} mapped to {top[0].template_index}"
        # Every candidate's row belongs to that candidate, and is its best-scoring reference.
        for c in top:
            rows = [i for i, s in enumerate(subjects) if s == c.subject_id]
            assert c.template_index in rows
            sims = templates[rows] @ (probe / np.linalg.norm(probe))
            assert c.template_index == rows[int(np.argmax(sims))]
            assert c.score == pytest.approx(float(sims.max()), abs=1e-5)


def test_subject_scores_are_each_subjects_best_reference() -> None:
    rng = np.random.default_rng(11)
    subjects = [f"S{i % 37}" for i in range(120)]  # 37 subjects, 3-4 references each, interleaved
    templates = _random_unit(rng, len(subjects), 32)
    probes = _random_unit(rng, 9, 32)
    index = WatchlistIndex(templates, subjects)
    got = index.subject_scores(probes)
    for j, sid in enumerate(index.subjects):
        rows = [i for i, s in enumerate(subjects) if s == sid]
        np.testing.assert_allclose(got[:, j], (probes @ templates[rows].T).max(axis=1), atol=1e-5)


def test_one_reference_each_keeps_rows_in_subject_order() -> None:
    rng = np.random.default_rng(3)
    subjects = ["zed", "amy", "kim"]
    templates = _random_unit(rng, 3, 16)
    index = WatchlistIndex(templates, subjects)
    for row in range(3):
        (c,) = index.search(templates[row], k=1)[0]
        assert (c.subject_id, c.template_index) == (subjects[row], row)


def test_threshold_cuts_candidates_and_mismatched_sizes_are_refused() -> None:
    rng = np.random.default_rng(5)
    templates = _random_unit(rng, 4, 16)
    index = WatchlistIndex(templates, ["a", "b", "a", "c"])
    probe = templates[2]
    cands = index.search(probe, k=3, threshold=0.99)[0]
    assert [(c.subject_id, c.template_index, c.rank) for c in cands] == [("a", 2, 1)]
    with pytest.raises(ValueError, match="3 subject ids"):
        WatchlistIndex(templates, ["a", "b", "c"])
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(8, np.float32))


def test_mean_fusion_scores_the_fused_template_and_still_shows_the_closest_reference() -> None:
    rng = np.random.default_rng(13)
    subjects = ["A", "B", "A", "C", "A"]
    templates = _random_unit(rng, 5, 32)
    index = WatchlistIndex(templates, subjects, fusion="mean")
    fused_a = templates[[0, 2, 4]].mean(axis=0)
    fused_a /= np.linalg.norm(fused_a)
    probe = templates[4] + 0.1 * rng.standard_normal(32).astype(np.float32)
    unit = probe / np.linalg.norm(probe)
    scores = index.subject_scores(probe)[0]
    assert scores[index.subjects.index("A")] == pytest.approx(float(unit @ fused_a), abs=1e-5)
    assert scores[index.subjects.index("B")] == pytest.approx(float(unit @ templates[1]), abs=1e-5)
    best = index.search(probe, k=1)[0][0]
    assert best.subject_id == "A" and best.template_index == 4
    with pytest.raises(ValueError, match="fusion"):
        WatchlistIndex(templates, subjects, fusion="median")


def test_a_template_offset_is_its_own_higher_threshold() -> None:
    rng = np.random.default_rng(17)
    subjects = ["A", "B", "A"]
    templates = _random_unit(rng, 3, 32)
    offsets = np.array([0.0, 0.0, 0.3], np.float32)
    index = WatchlistIndex(templates, subjects, offsets=offsets)
    plain = WatchlistIndex(templates, subjects)
    probe = templates[2]
    # Row 2 scores 1.0 raw, 0.7 after its offset; row 0 is unpenalised.
    (c,) = index.search(probe, k=1)[0]
    raw0 = float(templates[0] @ templates[2])
    assert c.subject_id == "A" and c.score == pytest.approx(max(0.7, raw0), abs=1e-5)
    assert plain.search(probe, k=1)[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert index.search(probe, k=1, threshold=0.8)[0] == [] or raw0 >= 0.8
    with pytest.raises(ValueError, match="offsets"):
        WatchlistIndex(templates, subjects, offsets=[0.1])
