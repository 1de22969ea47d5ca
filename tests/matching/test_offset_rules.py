"""Template offset rules (``matching/attraction.py``), the reference crowd that carries the rule, and the
calibration's minimum per rule: no face data needed, the arithmetic is checked on constructed scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openlfr.matching.attraction import AttractionPolicy, attraction_matrix, attraction_of
from openlfr.matching.calibration import Calibration
from openlfr.matching.reference_crowd import (
    ReferenceCrowd,
    load_reference_crowd,
    reference_crowd_path,
    save_reference_crowd,
)


def scores() -> np.ndarray:
    """4,000 crowd faces x 3 templates: one ordinary, one drawing few strangers, one attractor."""
    rng = np.random.default_rng(1)
    s = rng.normal(0.2, 0.08, size=(4000, 3)).astype(np.float32)
    s[:, 1] -= 0.05  # draws fewer strangers than most
    s[:40, 2] = rng.uniform(0.75, 0.85, 40)  # attracts 40 strangers where 2 are expected
    return s


def test_attractor_rule_raises_only_attractors() -> None:
    s = scores()
    t_ref = float(np.quantile(s[:, :2], 0.999))
    _, _, attractor, offsets = attraction_matrix(s, AttractionPolicy(reference_threshold=t_ref))
    assert attractor.tolist() == [False, False, True]
    assert offsets[0] == offsets[1] == 0.0
    assert offsets[2] == pytest.approx(float(np.sort(s[:, 2])[-4]) - t_ref, abs=1e-6)


def test_normalised_rule_gives_every_template_the_shift_to_the_same_crowd_share() -> None:
    s = scores()
    t_ref = float(np.quantile(s[:, :2], 0.999))
    policy = AttractionPolicy(reference_threshold=t_ref, rule="normalised", max_lowering=1.0)
    _, _, attractor, offsets = attraction_matrix(s, policy)
    k = 4  # 0.1 % of 4,000
    for j in range(3):
        kth = float(np.sort(s[:, j])[-k])
        assert offsets[j] == pytest.approx(kth - t_ref, abs=1e-6)
        # After the shift, each template matches the same share of the crowd at t_ref.
        assert int(np.sum(s[:, j] - offsets[j] >= t_ref - 1e-6)) == k
    assert offsets[1] < 0 < offsets[2] and attractor[2]


def test_normalised_lowering_is_capped_and_an_attractor_is_never_eased() -> None:
    s = scores()
    s[:, 1] -= 0.3  # far below the crowd: would be eased by about 0.3
    t_ref = float(np.quantile(s[:, 0], 0.999))
    policy = AttractionPolicy(reference_threshold=t_ref, rule="normalised", max_lowering=0.05)
    _, _, _, offsets = attraction_matrix(s, policy)
    assert offsets[1] == pytest.approx(-0.05) and offsets[2] > 0
    ev = attraction_of(np.array([1.0, 0.0]), np.array([[0.0, 1.0]] * 3000), policy)
    assert ev.rule == "normalised" and ev.offset == pytest.approx(-0.05) and "normalised" in ev.describe()


def test_a_policy_refuses_an_unknown_rule_or_a_negative_cap() -> None:
    with pytest.raises(ValueError, match="unknown template offset rule 'all'"):
        AttractionPolicy(reference_threshold=0.5, rule="all")
    with pytest.raises(ValueError, match="max_lowering"):
        AttractionPolicy(reference_threshold=0.5, max_lowering=-0.1)


def test_the_reference_crowd_carries_its_rule_and_an_older_file_reads_as_attractors(tmp_path: Path) -> None:
    t = np.eye(4, dtype=np.float32)
    save_reference_crowd(ReferenceCrowd("opencv-zoo", t, 0.5, 1e-3, "x", "normalised", 0.1), tmp_path)
    crowd = load_reference_crowd("opencv-zoo", tmp_path)
    assert crowd is not None and (crowd.rule, crowd.max_lowering) == ("normalised", pytest.approx(0.1))
    path = reference_crowd_path("opencv-zoo", tmp_path)
    np.savez(
        path.with_name("old.npz"),
        templates=t,
        reference_threshold=0.5,
        fmr=1e-3,
        pack="opencv-zoo",
        source="x",
    )
    path.with_name("old.npz").replace(path)
    old = load_reference_crowd("opencv-zoo", tmp_path)
    assert old is not None and (old.rule, old.max_lowering) == ("attractors", 0.0)


def test_an_older_calibration_knows_only_the_attractor_rule() -> None:
    old = Calibration(
        pack="p",
        validated_min_threshold=0.51,
        extra={"power": {"validated_min_without_attraction_check": 0.66}},
    )
    assert old.offset_rule == "attractors"
    assert old.minimum_for({"attractors"}) == 0.51 and old.minimum_for({None}) == 0.66
    # Offsets it never validated are held to the minimum without offsets.
    assert old.minimum_for({"normalised"}) == 0.66 and old.minimum_for(set()) == 0.51


def test_a_crowd_too_small_to_rest_a_threshold_on_eases_nothing() -> None:
    s = scores()
    t_ref = float(np.quantile(s[:, 0], 0.999))
    policy = AttractionPolicy(reference_threshold=t_ref, rule="normalised")
    assert attraction_matrix(s, policy)[3][1] < 0  # k = 4 crowd faces: eased
    small = attraction_matrix(s[:2000], policy)[3]  # k = 2 < min_ease_hits: raised only
    assert small[1] == 0.0 and small[2] > 0
