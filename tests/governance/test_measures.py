"""The record's measures against values computed by hand."""

from __future__ import annotations

import pytest

from openlfr.governance.measures import alert_precision, clopper_pearson, false_alerts_per_1000


def test_clopper_pearson_closed_forms() -> None:
    # With 0 or n successes the interval has a closed form: 1 - (a/2)^(1/n) and (a/2)^(1/n).
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-9)  # 0.308498
    lo, hi = clopper_pearson(10, 10)
    assert lo == pytest.approx(0.025 ** (1 / 10), abs=1e-9) and hi == 1.0
    lo, hi = clopper_pearson(1, 1)
    assert (lo, hi) == (pytest.approx(0.025), 1.0)


def test_clopper_pearson_published_values() -> None:
    # 5/10: the textbook exact interval (0.1871, 0.8129).
    lo, hi = clopper_pearson(5, 10)
    assert lo == pytest.approx(0.18709, abs=1e-4) and hi == pytest.approx(0.81291, abs=1e-4)
    # 1/2: lower = 1 - sqrt(0.975) = 0.012660, upper = sqrt(0.975) = 0.987421 (solved by hand for n=2).
    lo, hi = clopper_pearson(1, 2)
    assert lo == pytest.approx(1 - 0.975**0.5, abs=1e-6) and hi == pytest.approx(0.975**0.5, abs=1e-6)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    for bad in ((3, 2), (-1, 2)):
        with pytest.raises(ValueError):
            clopper_pearson(*bad)


def test_alert_precision_and_false_alert_rate() -> None:
    p = alert_precision(confirmed_true=3, adjudicated=4, unadjudicated=2)
    assert p.value == 0.75 and p.unadjudicated == 2
    # 3/4: lower solves 4x^3 - 3x^4 = 0.025 (the Beta(3, 2) CDF): x = 0.19412; upper = 0.975^(1/4) = 0.99369.
    assert p.ci_low == pytest.approx(0.19412, abs=1e-4) and p.ci_high == pytest.approx(0.99369, abs=1e-4)
    assert alert_precision(0, 0).value is None
    assert false_alerts_per_1000(3, 12_000) == pytest.approx(0.25)
    assert false_alerts_per_1000(0, 0) is None
