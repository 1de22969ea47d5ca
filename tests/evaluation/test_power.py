"""Validation with power: attribution of group differences to templates, the attraction check, ratios."""

from __future__ import annotations

import numpy as np
import pytest

from openlfr.evaluation.metrics import Rate
from openlfr.evaluation.power import equity_at, fnir_at_size, katz_ratio, validated_minimum
from openlfr.evaluation.runner import EvaluationOutcome
from openlfr.matching.attraction import AttractionPolicy, attraction_matrix, attraction_of


def _crowd(per_template_x: list[int], per_template_y: list[int], n: int = 2000):  # type: ignore[no-untyped-def]
    """Best scores and best columns of 2n crowd faces (n in group X, n in group Y): template j draws
    ``per_template_x[j]`` alerts (score 0.9) in X and ``per_template_y[j]`` in Y; the rest score 0.1."""
    best = np.full(2 * n, 0.1, np.float32)
    col = np.zeros(2 * n, np.int64)
    labels = np.array(["X"] * n + ["Y"] * n)
    i_x, i_y = 0, n
    for j, (kx, ky) in enumerate(zip(per_template_x, per_template_y, strict=True)):
        best[i_x : i_x + kx], col[i_x : i_x + kx] = 0.9, j
        best[i_y : i_y + ky], col[i_y : i_y + ky] = 0.9, j
        i_x, i_y = i_x + kx, i_y + ky
    return best, col, {"group": labels}


def test_a_difference_made_by_one_template_is_attributed_to_it() -> None:
    # Template 0 (an "infant photo") draws 30 of group X; ten ordinary templates draw 1 each in X and Y.
    best, col, labels = _crowd([30] + [1] * 10, [0] + [1] * 10)
    subjects = [f"S{j}" for j in range(11)]
    pt = equity_at(best, col, labels, 0.5, None, Rate.of(9, 10), subjects, 0.05)
    assert pt.significant
    (a,) = pt.attributions
    assert (a.high, a.low) == ("X", "Y") and a.explained
    assert a.templates[0] == ("S0", 30) and len(a.templates) == 1


def test_a_broad_difference_is_not_explained_by_a_few_templates() -> None:
    # Every one of 40 templates draws 2 of X and none of Y: the model, not a template, treats X worse.
    best, col, labels = _crowd([2] * 40, [0] * 40)
    pt = equity_at(best, col, labels, 0.5, None, Rate.of(9, 10), [f"S{j}" for j in range(40)], 0.05)
    (a,) = pt.attributions
    assert not a.explained and len(a.templates) == 5


def test_no_difference_means_nothing_to_attribute_and_the_ratio_interval_spans_one() -> None:
    best, col, labels = _crowd([3] * 4, [3] * 4)
    pt = equity_at(best, col, labels, 0.5, None, Rate.of(9, 10), list("abcd"), 0.05)
    assert not pt.significant and pt.attributions == []
    (r,) = pt.ratios
    assert r.ratio == pytest.approx(1.0) and r.ci_low < 1 < r.ci_high


def test_katz_ratio_hand_computed() -> None:
    r, lo, hi = katz_ratio(20, 1000, 10, 1000)
    se = np.sqrt(1 / 20 - 1 / 1000 + 1 / 10 - 1 / 1000)
    assert r == pytest.approx(2.0)
    assert lo == pytest.approx(2 * np.exp(-1.959964 * se)) and hi == pytest.approx(2 * np.exp(1.959964 * se))
    assert np.isfinite(katz_ratio(5, 1000, 0, 1000)[0])


def test_the_attraction_check_flags_a_template_that_draws_strangers_and_levels_it() -> None:
    rng = np.random.default_rng(1)
    n, m = 4000, 50
    scores = rng.normal(0.1, 0.1, (n, m)).astype(np.float32)
    scores[:, 7] += 0.25  # an attractor: its whole distribution sits higher
    policy = AttractionPolicy(reference_threshold=float(np.quantile(scores[:, :7], 1 - 1e-3)), fmr=1e-3)
    hits, p_values, attractor, offsets = attraction_matrix(scores, policy)
    assert p_values[7] < 1e-6
    assert np.flatnonzero(attractor).tolist() == [7]
    assert hits[7] > 20 * policy.fmr * n and offsets[7] > 0.1
    # After its offset it matches about as many strangers as an ordinary template.
    assert ((scores[:, 7] - offsets[7]) >= policy.reference_threshold).sum() <= max(1, policy.fmr * n)
    # One template against the crowd gives the same evidence as the matrix.
    crowd = np.eye(m, dtype=np.float32)[:3]  # degenerate crowd: nothing to flag
    assert not attraction_of(np.ones(m), crowd, policy).attractor


def test_validated_minimum_and_still_image_fnir() -> None:
    best, col, labels = _crowd([30] + [1] * 10, [0] + [1] * 10)
    subjects = [f"S{j}" for j in range(11)]
    grid = [equity_at(best, col, labels, t, None, Rate.of(1, 1), subjects, 0.05) for t in (0.5, 0.95)]
    assert validated_minimum(grid, 0.9) == (0.95, True)
    assert validated_minimum(grid[:1], 0.9)[1] is False
    # Still image: 3 subjects, mated searches scoring their mate 0.8 (rank 1) or 0.3.
    mated = np.array([[0.8, 0.1, 0.1], [0.1, 0.3, 0.2], [0.1, 0.2, 0.8]], np.float32)
    assert fnir_at_size(mated, np.array([0, 1, 2]), 0.5, 3, 1, 0) == pytest.approx(1 / 3)


def test_the_evaluation_reports_power_and_writes_a_reference_crowd(
    small_evaluation: EvaluationOutcome,
) -> None:
    from openlfr.matching.reference_crowd import load_reference_crowd

    r = small_evaluation.results["opencv-zoo"].power
    assert r is not None
    assert r["with_check"] and r["without_check"] and r["normalised"]
    assert all("tpir" in p and "ratios" in p for p in r["with_check"] + r["normalised"])
    page = small_evaluation.report_path.read_text()
    assert "Validation with power" in page and "<h4>with attractor offsets</h4>" in page
    assert "<h4>with every template normalised</h4>" in page and "<b>normalised</b> rule" in page
    assert (small_evaluation.report_path.parent / "power_tradeoff_opencv-zoo.png").stat().st_size > 1000
    path = small_evaluation.reference_crowds["opencv-zoo"]
    assert path.stat().st_mode & 0o777 == 0o600  # templates of faces: the service's only
    crowd = load_reference_crowd("opencv-zoo", path.parents[1])
    assert crowd is not None and crowd.size > 50 and "UTKFace" in crowd.source
    assert crowd.rule == r["policy"]["rule"] == "normalised"
    assert np.allclose(np.linalg.norm(crowd.templates, axis=1), 1.0, atol=1e-4)
