"""The metric functions against hand-computed cases and published interval values."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from openlfr.evaluation.analysis import validated_minimum
from openlfr.evaluation.metrics import (
    Rate,
    SingleComparisonTail,
    clopper_pearson,
    det_curve,
    fnir,
    fpir,
    holm,
    pairwise_fisher,
    threshold_for_fpir,
)


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [
        # R: binom.test(k, n)$conf.int
        (5, 10, 0.1870860, 0.8129140),
        (0, 10, 0.0, 0.3084971),
        (1, 20, 0.0012651, 0.2487328),
        (10, 10, 0.6915029, 1.0),
    ],
)
def test_clopper_pearson_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    got = clopper_pearson(k, n)
    assert got[0] == pytest.approx(lo, abs=2e-7)
    assert got[1] == pytest.approx(hi, abs=2e-7)


@pytest.mark.parametrize(("k", "n"), [(3, 1000), (17, 250), (0, 5000)])
def test_clopper_pearson_is_the_exact_binomial_inversion(k: int, n: int) -> None:
    lo, hi = clopper_pearson(k, n)
    # By definition: P(X >= k | lo) = 2.5% and P(X <= k | hi) = 2.5%.
    if k > 0:
        assert stats.binom.sf(k - 1, n, lo) == pytest.approx(0.025, rel=1e-6)
    assert stats.binom.cdf(k, n, hi) == pytest.approx(0.025, rel=1e-6)
    # The zero-event upper bound has a closed form.
    if k == 0:
        assert hi == pytest.approx(1 - 0.025 ** (1 / n), rel=1e-9)


def test_clopper_pearson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        clopper_pearson(11, 10)


def test_fpir_and_fnir_hand_computed() -> None:
    nonmated_best = np.array([0.10, 0.20, 0.30, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95])
    # threshold 0.6: 0.6, 0.7, 0.8, 0.9, 0.95 alert -> 5 of 10
    assert fpir(nonmated_best, 0.6) == pytest.approx(0.5)
    assert fpir(nonmated_best, 0.96) == 0.0
    mate = np.array([0.9, 0.8, 0.7, 0.65, 0.3])
    rank1 = np.array([True, True, False, True, True])
    # threshold 0.6: hits are rows 0, 1, 3 (row 2 is not rank 1, row 4 is below) -> FNIR 2/5
    assert fnir(mate, rank1, 0.6) == pytest.approx(0.4)
    # threshold 0.0: only the rank-1 miss remains
    assert fnir(mate, rank1, 0.0) == pytest.approx(0.2)


def test_threshold_for_fpir_allows_exactly_the_target_and_handles_ties() -> None:
    scores = np.arange(1000) / 1000.0  # 0.000 .. 0.999
    t = threshold_for_fpir(scores, 0.01)
    assert fpir(scores, t) == pytest.approx(0.01)  # 10 false alerts allowed of 1000
    assert 0.989 < t <= 0.990
    tied = np.array([0.5] * 5 + [0.1] * 995)
    t2 = threshold_for_fpir(tied, 0.003)  # 3 allowed but 5 tie: none of them may pass
    assert fpir(tied, t2) == 0.0
    assert t2 > 0.5


def test_single_comparison_extrapolation() -> None:
    scores = np.linspace(0, 1, 100_001)[:-1]  # uniform, 100,000 comparisons
    tail = SingleComparisonTail.from_scores(scores, keep=10_000)
    assert tail.p1(0.99) == pytest.approx(0.01, rel=1e-3)
    assert tail.predicted_fpir(0.99, 10) == pytest.approx(1 - 0.99**10, rel=1e-3)
    t, support = tail.threshold_for(0.01, 10)
    p1 = 1 - 0.99 ** (1 / 10)
    assert support == math.floor(p1 * 100_000)
    assert tail.predicted_fpir(t, 10) <= 0.01


def test_det_curve_is_consistent_with_the_point_functions() -> None:
    rng = np.random.default_rng(1)
    nm = rng.normal(0.2, 0.1, 500)
    mate = rng.normal(0.6, 0.1, 200)
    r1 = rng.random(200) > 0.05
    thr, fp, fn = det_curve(mate, r1, nm, points=50)
    for i in (0, 10, 25, 49):
        assert fp[i] == pytest.approx(fpir(nm, thr[i]))
        assert fn[i] == pytest.approx(fnir(mate, r1, thr[i]))


def test_holm_adjustment_hand_computed() -> None:
    # p = 0.01, 0.04, 0.03 -> sorted 0.01*3=0.03, 0.03*2=0.06, 0.04*1 -> max(0.06, 0.04)=0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_pairwise_fisher_finds_a_real_difference_and_not_a_fake_one() -> None:
    tests = pairwise_fisher(
        {"sex": {"female": (40, 1000), "male": (10, 1000)}, "race": {"A": (10, 500), "B": (11, 500)}}
    )
    by = {(t.attribute, t.group_a, t.group_b): t for t in tests}
    assert by[("sex", "female", "male")].significant
    assert not by[("race", "A", "B")].significant
    assert by[("sex", "female", "male")].p_value == pytest.approx(
        stats.fisher_exact([[40, 960], [10, 990]])[1]
    )


def test_rate_value_and_interval() -> None:
    r = Rate.of(5, 10)
    assert r.value == 0.5
    assert (r.lo, r.hi) == clopper_pearson(5, 10)


@dataclass(frozen=True)
class GridPoint:
    threshold: float
    any_significant: bool


def test_validated_minimum_needs_every_higher_threshold_clean() -> None:
    grid = [
        GridPoint(threshold=0.30, any_significant=False),
        GridPoint(threshold=0.35, any_significant=True),
        GridPoint(threshold=0.40, any_significant=False),
        GridPoint(threshold=0.45, any_significant=False),
    ]
    # 0.30 is clean but 0.35 above it is not: the minimum is 0.40.
    assert validated_minimum(grid, 0.9) == (0.40, True)
    grid[-1] = GridPoint(threshold=0.45, any_significant=True)
    t, ok = validated_minimum(grid, 0.9)
    assert not ok and t > 0.9


def test_threshold_holds_when_float32_scores_are_compared() -> None:
    # Deployments and the index hold float32 scores; a threshold one float64 step above a float32 score
    # would round back onto it when compared with a float32 array and let that search alert.
    scores = np.random.default_rng(3).normal(0.2, 0.1, 10_000).astype(np.float32)
    for target in (0.01, 0.001, 0.0001):
        t = threshold_for_fpir(scores, target)
        assert int(np.sum(scores >= t)) <= target * scores.size
        assert int(np.sum(scores.astype(np.float64) >= t)) <= target * scores.size
