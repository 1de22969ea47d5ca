"""The two measures every published deployment record carries (issue 8), with their uncertainty.

* Alert precision: confirmed-true alerts / adjudicated alerts (those whose truth people established:
  confirmed true, confirmed false, or dismissed as a false alert by the operator), with its exact
  (Clopper-Pearson) 95% interval and the count of alerts still unadjudicated beside it.
* False alerts per 1,000 faces seen: how often the public is wrongly flagged.
"""

from __future__ import annotations

from dataclasses import dataclass


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval for ``successes / trials``; (0, 1) when there are no trials."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if trials == 0:
        return 0.0, 1.0
    from scipy.stats import beta  # here, not at the top: scipy.stats costs every CLI process ~1 s to import

    a = (1 - confidence) / 2
    lo = 0.0 if successes == 0 else float(beta.ppf(a, successes, trials - successes + 1))
    hi = 1.0 if successes == trials else float(beta.ppf(1 - a, successes + 1, trials - successes))
    return lo, hi


@dataclass(frozen=True)
class Precision:
    confirmed_true: int
    adjudicated: int
    unadjudicated: int
    value: float | None
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, object]:
        return {
            "confirmed_true": self.confirmed_true,
            "adjudicated": self.adjudicated,
            "unadjudicated": self.unadjudicated,
            "precision": self.value,
            "ci95_low": self.ci_low,
            "ci95_high": self.ci_high,
        }


def alert_precision(
    confirmed_true: int, adjudicated: int, unadjudicated: int = 0, confidence: float = 0.95
) -> Precision:
    lo, hi = clopper_pearson(confirmed_true, adjudicated, confidence)
    value = confirmed_true / adjudicated if adjudicated else None
    return Precision(confirmed_true, adjudicated, unadjudicated, value, lo, hi)


def false_alerts_per_1000(false_alerts: int, faces_seen: int) -> float | None:
    """``None`` when no faces were counted (a rate over nothing is not zero)."""
    if false_alerts < 0 or faces_seen < 0:
        raise ValueError("counts cannot be negative")
    return 1000.0 * false_alerts / faces_seen if faces_seen else None
