"""Crowd hygiene on hand-made score matrices: who is excluded, and when two packs must agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from openlfr.evaluation.datasets import ImageRecord
from openlfr.evaluation.hygiene import crowd_hygiene, strict_threshold
from openlfr.evaluation.protocol import ScoreData, Searches


def _rec(ds: str, name: str, subject: str) -> ImageRecord:
    return ImageRecord(ds, Path(f"/nonexistent/{name}"), name, subject, "male", "White", 30)


def _data(pack: str, crowd_scores: list[list[float]], rng_seed: int = 0) -> ScoreData:
    subjects = ["alice", "bob", "carol"]
    rng = np.random.default_rng(rng_seed)
    # 400 mated searches x 3 subjects, known-different scores uniform in [0, 0.5), mate scores 0.9.
    mated = rng.uniform(0, 0.5, size=(400, 3)).astype(np.float32)
    mate_col = np.arange(400) % 3
    mated[np.arange(400), mate_col] = 0.9
    held = rng.uniform(0, 0.5, size=(300, 3)).astype(np.float32)
    crowd = np.asarray(crowd_scores, np.float32)
    return ScoreData(
        pack,
        subjects,
        [_rec("lfw", s, s) for s in subjects],
        [],
        Searches([_rec("lfw", f"m{i}", subjects[c]) for i, c in enumerate(mate_col)], mated),
        mate_col,
        Searches([_rec("lfw", f"h{i}", f"h{i}") for i in range(300)], held),
        Searches([_rec("utkface", f"u{i}", f"u{i}") for i in range(len(crowd))], crowd),
    )


CROWD = [[0.95, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.3, 0.4]]


def test_strict_threshold_sits_above_every_known_different_score_at_a_tiny_fmr() -> None:
    data = _data("a", CROWD)
    t, n = strict_threshold(data, 1e-3)
    assert n == 400 * 2 + 300 * 3  # mates excluded
    known = np.concatenate([data.mated.scores[data.mated.scores < 0.85], data.lfw_nonmated.scores.ravel()])
    assert np.sum(known >= t) <= 1e-3 * n
    assert t < 0.8


def test_one_pack_excludes_crowd_faces_above_its_strict_threshold() -> None:
    h = crowd_hygiene({"a": _data("a", CROWD)}, 1e-3)
    exclusions, strict = h.exclusions, h.strict
    assert [(x.crowd_rel, x.subject) for x in exclusions] == [("u0", "alice"), ("u1", "bob")]
    assert exclusions[0].scores["a"] > exclusions[1].scores["a"]  # highest first
    assert strict["a"] < 0.8


def test_two_packs_must_agree_on_the_same_person() -> None:
    other = [[0.95, 0.1, 0.1], [0.1, 0.1, 0.2], [0.2, 0.3, 0.4]]  # pack b does not confirm u1
    exclusions = crowd_hygiene({"a": _data("a", CROWD), "b": _data("b", other, 1)}, 1e-3).exclusions
    assert [(x.crowd_rel, x.subject) for x in exclusions] == [("u0", "alice")]
    assert set(exclusions[0].scores) == {"a", "b"}
    disagree = [[0.1, 0.95, 0.1], [0.1, 0.1, 0.2], [0.2, 0.3, 0.4]]  # b names a different person for u0
    exclusions = crowd_hygiene({"a": _data("a", CROWD), "b": _data("b", disagree, 1)}, 1e-3).exclusions
    assert exclusions == []


def test_too_little_data_for_the_fmr_means_no_hygiene() -> None:
    h = crowd_hygiene({"a": _data("a", CROWD)}, 1e-6)
    assert h.exclusions == [] and h.strict["a"] == float("inf")


def test_a_template_that_many_crowd_faces_reach_is_not_excluded() -> None:
    # Seven different crowd faces all reach carol: a lookalike-prone template, not seven photos of carol.
    crowd = CROWD + [[0.1, 0.1, 0.9 - i / 100] for i in range(7)]
    h = crowd_hygiene({"a": _data("a", crowd)}, 1e-3, max_per_subject=5)
    assert [x.subject for x in h.exclusions] == ["alice", "bob"]
    assert h.kept_subjects == {"carol": 7}
    h = crowd_hygiene({"a": _data("a", crowd)}, 1e-3, max_per_subject=10)
    assert sum(x.subject == "carol" for x in h.exclusions) == 7
