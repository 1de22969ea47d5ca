"""1:N metrics in NIST's terms, with exact confidence intervals and tests between groups.

Conventions (stated once, used everywhere):

- A *non-mated search* produces a false alert at threshold ``t`` when its best score over the watchlist is
  ``>= t``. FPIR(t) = false alerts / non-mated searches.
- A *mated search* is a hit at ``t`` when its mate is the rank-1 candidate and scores ``>= t`` (an LFR alert
  names one subject). FNIR(t) = 1 - hits / mated searches; TPIR = 1 - FNIR.
- The threshold for an FPIR target over ``n`` non-mated searches allows ``floor(target * n)`` false alerts:
  it is the smallest value strictly above the next-highest non-mated score, so ties never slip through.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from openlfr.errors import OpenLFRError

FloatArray = npt.NDArray[np.floating]


class EvaluationError(OpenLFRError, ValueError):
    """The data cannot support the measurement asked for (too few searches or comparisons)."""


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided ``1 - alpha`` interval for a binomial proportion ``k / n``."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= k <= n:
        raise ValueError(f"k={k} must be between 0 and n={n}")
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return (lo, hi)


@dataclass(frozen=True)
class Rate:
    """A proportion with its counts and exact 95% interval."""

    k: int
    n: int
    lo: float
    hi: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")

    @classmethod
    def of(cls, k: int, n: int, alpha: float = 0.05) -> Rate:
        lo, hi = clopper_pearson(int(k), int(n), alpha)
        return cls(int(k), int(n), lo, hi)

    def as_dict(self) -> dict[str, float | int]:
        return {"k": self.k, "n": self.n, "rate": self.value, "ci_low": self.lo, "ci_high": self.hi}


def fpir(nonmated_best: FloatArray, threshold: float) -> float:
    """Share of non-mated searches whose best watchlist score is at or above the threshold."""
    s = np.asarray(nonmated_best, dtype=np.float64)
    return float(np.mean(s >= threshold)) if s.size else float("nan")


def fnir(mate_scores: FloatArray, mate_is_rank1: npt.NDArray[np.bool_], threshold: float) -> float:
    """Share of mated searches that miss: mate not rank 1, or its score below the threshold."""
    s = np.asarray(mate_scores, dtype=np.float64)
    r1 = np.asarray(mate_is_rank1, dtype=bool)
    return float(1.0 - np.mean(r1 & (s >= threshold))) if s.size else float("nan")


def just_above(score: float) -> float:
    """The smallest float32 value above ``score``. Scores are float32 (and a float32 array compared with a
    Python float compares in float32), so a threshold one float64 step above a score would round back onto
    it and let it through."""
    return float(np.nextafter(np.float32(score), np.float32(np.inf)))


def threshold_for_fpir(nonmated_best: FloatArray, target: float) -> float:
    """The lowest threshold whose FPIR on these non-mated searches is at most ``target``."""
    s = np.sort(np.asarray(nonmated_best, dtype=np.float64))[::-1]
    if s.size == 0:
        raise EvaluationError("no non-mated searches to set a threshold from")
    allowed = math.floor(target * s.size + 1e-9)
    if allowed >= s.size:
        return float(s[-1])
    return just_above(s[allowed])


def top_k_desc(values: FloatArray, k: int) -> npt.NDArray[np.float64]:
    """The ``k`` largest values, largest first (without sorting the whole array)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    k = min(k, v.size)
    if k == 0:
        return np.zeros(0)
    part = np.partition(v, v.size - k)[v.size - k :]
    return np.sort(part)[::-1]


@dataclass(frozen=True)
class SingleComparisonTail:
    """The top of the pooled non-mated single-comparison score distribution (probe x enrolled template),
    used to extrapolate FPIR to watchlists larger than the data: FPIR(N, t) ~ 1 - (1 - p1(t))^N."""

    top: npt.NDArray[np.float64]
    """Largest comparison scores, descending."""
    total: int
    """Number of comparisons the tail was taken from."""

    @classmethod
    def from_scores(cls, scores: FloatArray, keep: int = 200_000) -> SingleComparisonTail:
        arr = np.asarray(scores)
        return cls(top_k_desc(arr, keep), int(arr.size))

    def p1(self, threshold: float) -> float:
        """Single-comparison false-match rate at a threshold (exact while it is inside the kept tail)."""
        return float(np.count_nonzero(self.top >= threshold)) / self.total

    def predicted_fpir(self, threshold: float, watchlist_size: int) -> float:
        return 1.0 - (1.0 - self.p1(threshold)) ** watchlist_size

    def threshold_for(self, target_fpir: float, watchlist_size: int) -> tuple[float, int]:
        """(threshold, support): the threshold whose predicted FPIR at this size is at most the target, and
        how many comparisons lie at or above it (small support = a thin, uncertain estimate)."""
        p1 = 1.0 - (1.0 - target_fpir) ** (1.0 / watchlist_size)
        allowed = math.floor(p1 * self.total + 1e-9)
        if allowed >= self.top.size:
            raise EvaluationError("kept tail too short for this target; keep more comparisons")
        return just_above(self.top[allowed]), allowed


def det_curve(
    mate_scores: FloatArray,
    mate_is_rank1: npt.NDArray[np.bool_],
    nonmated_best: FloatArray,
    points: int = 400,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """(thresholds, FPIR, FNIR) over the range of observed scores."""
    nm = np.sort(np.asarray(nonmated_best, dtype=np.float64))
    ms = np.asarray(mate_scores, dtype=np.float64)
    hit_scores = np.sort(np.where(np.asarray(mate_is_rank1, bool), ms, -np.inf))
    lo = float(min(nm.min() if nm.size else 0, np.nanmin(ms) if ms.size else 0))
    hi = float(max(nm.max() if nm.size else 1, ms.max() if ms.size else 1))
    thr = np.linspace(lo, hi, points)
    fp = 1.0 - np.searchsorted(nm, thr, side="left") / max(nm.size, 1)
    fn = np.searchsorted(hit_scores, thr, side="left") / max(hit_scores.size, 1)
    return thr, fp, fn


@dataclass(frozen=True)
class GroupTest:
    attribute: str
    group_a: str
    group_b: str
    p_value: float
    p_holm: float
    significant: bool


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down; controls the family-wise error rate)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def pairwise_fisher(
    groups: Mapping[str, Mapping[str, tuple[int, int]]], alpha: float = 0.05
) -> list[GroupTest]:
    """Fisher's exact test between every pair of groups within each attribute, Holm-corrected over the
    whole family (all attributes together). ``groups[attribute][group] = (events, searches)``."""
    raw: list[tuple[str, str, str, float]] = []
    for attr, by_group in groups.items():
        for a, b in itertools.combinations(sorted(by_group), 2):
            (ka, na), (kb, nb) = by_group[a], by_group[b]
            if na == 0 or nb == 0:
                continue
            _, p = stats.fisher_exact([[ka, na - ka], [kb, nb - kb]])
            raw.append((attr, a, b, float(p)))
    adjusted = holm([r[3] for r in raw])
    return [
        GroupTest(attr, a, b, p, pa, pa < alpha) for (attr, a, b, p), pa in zip(raw, adjusted, strict=True)
    ]
