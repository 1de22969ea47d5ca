"""Validation with power: group false-alert rates on every crowd face, the templates behind each difference,
and the validated minimum with the enrolment attraction check applied (issue 12 item 4).

Three questions the plain equitability grid (``analysis.py``) leaves open are answered here:

1. *What does each threshold cost in finds?* Every grid row carries the TPIR beside the group FPIRs.
2. *Who causes a difference?* For every significant pairwise difference, the enrolled templates behind the
   higher group's false alerts are removed one by one (most alerts first) until the difference is no longer
   significant. A difference that two or three templates explain is a property of those templates (e.g. an
   infant photo attracting children), which enrolment can act on; one that survives is a property of the
   model and must set the minimum.
3. *What is validated when enrolment acts on them?* The attraction check (``matching/attraction.py``) gives
   templates that attract a reference crowd their own higher threshold. It is evaluated *cross-fitted*: the
   crowd is split in folds; offsets are learnt on the other folds and the false alerts counted on the held
   fold, so no face both finds an attractor and is counted against it, and every crowd face still counts.
   The validated minimum is then the lowest grid threshold at and above which no FPIR difference between
   groups is significant (Holm-corrected Fisher tests, as in ``analysis.py``).
4. *What is validated when every template is normalised?* The same, cross-fitted, with the ``normalised``
   offset rule (``matching/attraction.py``): every template's scores shifted so that it matches the same
   share of the crowd at the threshold. The calibration states the minimum of each rule, and its headline
   minimum is the one of the rule ``governance.template_offsets`` names.

The largest-to-smallest group ratio of each attribute is given with a Katz log interval (0.5 added to
empty cells).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from openlfr.config import EvaluationSettings, GovernanceSettings
from openlfr.evaluation.metrics import GroupTest, Rate, pairwise_fisher, threshold_for_fpir
from openlfr.evaluation.protocol import ScoreData, group_labels
from openlfr.matching.attraction import AttractionPolicy, attraction_matrix

GRID_LEVELS = (0.05, 0.03, 0.02, 0.01, 0.007, 0.005, 0.003, 0.002, 0.0015, 0.001, 0.0007, 0.0005)
"""Overall crowd FPIR levels whose thresholds form the grid (finer than ``analysis.GRID_LEVELS`` near the
operating point, where the minimum is decided)."""
MIN_GRID_ALERTS = 5
ATTRIBUTES = ("race", "sex", "age")
STILL_IMAGE_WATCHLIST = 1000
"""Watchlist size at which the still-image FNIR is stated (issue 12)."""
MIN_GROUP_FOR_RATIO = 100
"""Groups smaller than this are left out of the largest-to-smallest ratio (their rates are too coarse)."""


@dataclass(frozen=True)
class GroupRatio:
    attribute: str
    high: str
    low: str
    ratio: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Attribution:
    """The templates behind one significant difference, and whether removing them explains it."""

    attribute: str
    high: str
    low: str
    templates: list[tuple[str, int]]
    """(enrolled subject, false alerts it drew in the higher group), in the order removed."""
    explained: bool
    """No longer significant once these templates are removed (at most ``max_templates``)."""


@dataclass
class EquityPoint:
    """Group FPIRs at one threshold, with the TPIR it buys and the templates behind any difference."""

    level: float | None
    threshold: float
    crowd_fpir: Rate
    tpir: Rate
    groups: dict[str, dict[str, Rate]]
    tests: list[GroupTest]
    ratios: list[GroupRatio]
    attributions: list[Attribution] = field(default_factory=list)

    @property
    def significant(self) -> bool:
        return any(t.significant for t in self.tests)

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "threshold": self.threshold,
            "crowd_fpir": self.crowd_fpir.as_dict(),
            "tpir": self.tpir.as_dict(),
            "groups": {a: {g: r.as_dict() for g, r in gs.items()} for a, gs in self.groups.items()},
            "tests": [asdict(t) for t in self.tests],
            "any_significant": self.significant,
            "ratios": [asdict(r) for r in self.ratios],
            "attributions": [asdict(a) for a in self.attributions],
        }


@dataclass
class PowerAnalysis:
    """The grid without and with the attraction check, and the validated minimum of each."""

    crowd_faces: int
    folds: int
    policy: dict[str, Any]
    attractors: list[dict[str, Any]]
    """Templates flagged on the whole crowd (what an approver would see): subject, hits, offset."""
    without_check: list[EquityPoint]
    with_check: list[EquityPoint]
    validated_min_without: float
    validated_without: bool
    validated_min_with: float
    validated_with: bool
    normalised: list[EquityPoint] = field(default_factory=list)
    """The grid with every template normalised (cross-fitted)."""
    validated_min_normalised: float = float("inf")
    validated_normalised: bool = False
    normalised_offsets: dict[str, float] = field(default_factory=dict)
    """Spread of the normalised offsets learnt on the whole crowd: min, median, max, share capped."""
    still_image: dict[str, dict[str, float]] = field(default_factory=dict)
    """FNIR with a ``STILL_IMAGE_WATCHLIST``-person watchlist at each validated minimum (random draws)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "crowd_faces": self.crowd_faces,
            "folds": self.folds,
            "policy": self.policy,
            "attractors": self.attractors,
            "without_check": [p.as_dict() for p in self.without_check],
            "with_check": [p.as_dict() for p in self.with_check],
            "validated_min_without": self.validated_min_without,
            "validated_without": self.validated_without,
            "validated_min_with": self.validated_min_with,
            "validated_with": self.validated_with,
            "normalised": [p.as_dict() for p in self.normalised],
            "validated_min_normalised": self.validated_min_normalised,
            "validated_normalised": self.validated_normalised,
            "normalised_offsets": self.normalised_offsets,
            "still_image": self.still_image,
        }


def policy_for(
    crowd_scores: npt.NDArray[np.float32], gov: GovernanceSettings, rule: str = "attractors"
) -> AttractionPolicy:
    """The attraction policy under ``rule`` with its reference threshold taken from a crowd x templates
    score matrix: the score that the share ``attraction_fmr`` of all single comparisons reaches."""
    flat = np.asarray(crowd_scores, np.float32).ravel()
    t_ref = float(np.quantile(flat, 1.0 - gov.attraction_fmr)) if flat.size else 1.0
    return AttractionPolicy(
        reference_threshold=t_ref,
        fmr=gov.attraction_fmr,
        factor=gov.attraction_factor,
        min_hits=gov.attraction_min_hits,
        p_value=gov.attraction_p_value,
        rule=rule,
        max_lowering=gov.normalisation_max_lowering,
    )


def katz_ratio(k1: int, n1: int, k2: int, n2: int, z: float = 1.959964) -> tuple[float, float, float]:
    """Ratio of two proportions with its Katz log interval (0.5 added to both cells when one is empty)."""
    if k1 == 0 or k2 == 0:
        k1, k2, n1, n2 = k1 + 0.5, k2 + 0.5, n1 + 0.5, n2 + 0.5  # type: ignore[assignment]
    r = (k1 / n1) / (k2 / n2)
    se = float(np.sqrt(max(0.0, 1 / k1 - 1 / n1 + 1 / k2 - 1 / n2)))
    return float(r), float(r * np.exp(-z * se)), float(r * np.exp(z * se))


def _ratios(groups: dict[str, dict[str, tuple[int, int]]]) -> list[GroupRatio]:
    out = []
    for a, gs in groups.items():
        big = {g: kn for g, kn in gs.items() if kn[1] >= MIN_GROUP_FOR_RATIO and g != "unknown"}
        if len(big) < 2:
            continue
        hi = max(big, key=lambda g: (big[g][0] + 0.5) / big[g][1])
        lo = min(big, key=lambda g: (big[g][0] + 0.5) / big[g][1])
        r, lo_ci, hi_ci = katz_ratio(big[hi][0], big[hi][1], big[lo][0], big[lo][1])
        out.append(GroupRatio(a, hi, lo, r, lo_ci, hi_ci))
    return out


def equity_at(
    best: npt.NDArray[np.float32],
    column: npt.NDArray[np.int64],
    labels: dict[str, npt.NDArray[np.str_]],
    threshold: float,
    level: float | None,
    tpir: Rate,
    subjects: list[str],
    alpha: float,
    max_templates: int = 5,
) -> EquityPoint:
    """Group FPIRs and tests at ``threshold`` for crowd best scores ``best`` (whose best template is
    ``column``), with the templates behind each significant difference."""
    alert = best >= threshold

    def counts(mask: npt.NDArray[np.bool_]) -> dict[str, dict[str, tuple[int, int]]]:
        return {
            a: {g: (int((mask & (lab == g)).sum()), int((lab == g).sum())) for g in sorted(set(lab.tolist()))}
            for a, lab in labels.items()
        }

    groups = counts(alert)
    tests = pairwise_fisher(groups, alpha)
    point = EquityPoint(
        level,
        threshold,
        Rate.of(int(alert.sum()), int(alert.size), alpha),
        tpir,
        {a: {g: Rate.of(k, n, alpha) for g, (k, n) in gs.items()} for a, gs in groups.items()},
        tests,
        _ratios(groups),
    )
    for t in tests:
        if not t.significant:
            continue
        ka, na = groups[t.attribute][t.group_a]
        kb, nb = groups[t.attribute][t.group_b]
        high, low = (t.group_a, t.group_b) if ka / na >= kb / nb else (t.group_b, t.group_a)
        removed: list[tuple[str, int]] = []
        keep = alert.copy()
        explained = False
        for _ in range(max_templates):
            in_high = keep & (labels[t.attribute] == high)
            if not in_high.any():
                break
            cols = np.bincount(column[in_high], minlength=len(subjects))
            j = int(np.argmax(cols))
            removed.append((subjects[j], int(cols[j])))
            keep &= column != j
            again = pairwise_fisher(counts(keep), alpha)
            if not any(
                x.significant and {x.group_a, x.group_b} == {high, low} and x.attribute == t.attribute
                for x in again
            ):
                explained = True
                break
        point.attributions.append(Attribution(t.attribute, high, low, removed, explained))
    return point


def _grid(
    best: npt.NDArray[np.float32],
    column: npt.NDArray[np.int64],
    labels: dict[str, npt.NDArray[np.str_]],
    tpir_at: Any,
    subjects: list[str],
    alpha: float,
) -> list[EquityPoint]:
    out: list[EquityPoint] = []
    seen: set[float] = set()
    for level in GRID_LEVELS:
        if level * best.size < MIN_GRID_ALERTS:
            continue
        t = threshold_for_fpir(best, level)
        if t in seen:
            continue
        seen.add(t)
        out.append(equity_at(best, column, labels, t, level, tpir_at(t), subjects, alpha))
    return out


def validated_minimum(grid: list[EquityPoint], max_score: float) -> tuple[float, bool]:
    """Lowest grid threshold at and above which no difference is significant; (just above every crowd
    score, False) when even the strictest one shows a difference."""
    best: float | None = None
    for p in sorted(grid, key=lambda p: p.threshold, reverse=True):
        if p.significant:
            break
        best = p.threshold
    if best is None:
        return float(np.nextafter(np.float32(max_score), np.float32(np.inf))), False
    return float(best), True


def fnir_at_size(
    mated: npt.NDArray[np.float32],
    mate_column: npt.NDArray[np.int64],
    threshold: float,
    size: int,
    repeats: int,
    seed: int,
) -> float:
    """Mean FNIR over ``repeats`` random watchlists of ``size`` enrolled people: the mated searches of
    the people drawn, a hit being their mate ranked first among the drawn people at or above the threshold."""
    n_subj = mated.shape[1]
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(repeats if size < n_subj else 1):
        cols = np.sort(rng.choice(n_subj, size=min(size, n_subj), replace=False))
        pos = np.full(n_subj, -1)
        pos[cols] = np.arange(cols.size)
        keep = pos[mate_column] >= 0
        sub = mated[keep][:, cols]
        mate = pos[mate_column[keep]]
        rows = np.arange(sub.shape[0])
        hit = (sub.argmax(axis=1) == mate) & (sub[rows, mate] >= threshold)
        vals.append(1.0 - float(hit.mean()) if hit.size else float("nan"))
    return float(np.nanmean(vals))


def cross_fitted_offsets(
    crowd_scores: npt.NDArray[np.float32],
    gov: GovernanceSettings,
    folds: int,
    seed: int,
    rule: str = "attractors",
) -> npt.NDArray[np.float64]:
    """Per crowd face, per template: the offset under ``rule`` learnt on the *other* folds of the crowd."""
    n, m = crowd_scores.shape
    fold = np.random.default_rng(seed).permutation(n) % folds
    out = np.zeros((n, m))
    for f in range(folds):
        train = crowd_scores[fold != f]
        _, _, _, offsets = attraction_matrix(train, policy_for(train, gov, rule))
        out[fold == f] = offsets
    return out


def analyse_power(
    data: ScoreData,
    crowd_keep: npt.NDArray[np.bool_],
    cfg: EvaluationSettings,
    gov: GovernanceSettings,
    folds: int = 2,
) -> PowerAnalysis:
    """The grid on every kept crowd face, without and with the attraction check (cross-fitted)."""
    alpha = cfg.alpha
    crowd = data.crowd.scores[crowd_keep]
    records = [r for r, k in zip(data.crowd.records, crowd_keep, strict=True) if k]
    labels = {a: np.array(group_labels(records, a, cfg.age_bands)) for a in ATTRIBUTES}
    subjects = data.subjects

    def tpir_fn(mated: npt.NDArray[np.float32]) -> Any:
        rows = np.arange(mated.shape[0])
        mate = mated[rows, data.mate_column] if mated.size else np.zeros(0)
        rank1 = mated.argmax(axis=1) == data.mate_column if mated.size else np.zeros(0, bool)

        def at(t: float) -> Rate:
            return Rate.of(int(np.sum(rank1 & (mate >= t))), int(mate.size), alpha)

        return at

    # Without the check.
    best0 = crowd.max(axis=1) if crowd.shape[1] else np.full(crowd.shape[0], -np.inf, np.float32)
    col0 = crowd.argmax(axis=1)
    grid0 = _grid(best0, col0, labels, tpir_fn(data.mated.scores), subjects, alpha)
    vmin0, ok0 = validated_minimum(grid0, float(best0.max()))

    # With offsets: crowd faces judged with offsets learnt on the other folds; mated searches with the
    # offsets the whole crowd gives (what a deployment enrolled with that crowd would apply).
    def with_offsets(
        rule: str,
    ) -> tuple[list[EquityPoint], float, bool, npt.NDArray[np.float32], npt.NDArray[np.float64]]:
        _, _, _, full = attraction_matrix(crowd, policy_for(crowd, gov, rule))
        adjusted = (crowd - cross_fitted_offsets(crowd, gov, folds, cfg.seed, rule)).astype(np.float32)
        best = adjusted.max(axis=1)
        mated = (data.mated.scores - full[None, :]).astype(np.float32)
        grid = _grid(best, adjusted.argmax(axis=1), labels, tpir_fn(mated), subjects, alpha)
        vmin, ok = validated_minimum(grid, float(best.max()))
        return grid, vmin, ok, mated, full

    full_policy = policy_for(crowd, gov)
    hits, p, attractor, offsets = attraction_matrix(crowd, full_policy)
    grid1, vmin1, ok1, mated1, _ = with_offsets("attractors")
    grid2, vmin2, ok2, mated2, norm = with_offsets("normalised")
    flagged = [
        {
            "subject": subjects[j],
            "hits": int(hits[j]),
            "expected": full_policy.fmr * crowd.shape[0],
            "p_value": float(p[j]),
            "offset": float(offsets[j]),
        }
        for j in np.flatnonzero(attractor)
    ]
    flagged.sort(key=lambda d: -d["hits"])
    size, reps = STILL_IMAGE_WATCHLIST, cfg.subsample_repeats
    still = {
        "without_check": {
            "threshold": vmin0,
            "fnir": fnir_at_size(data.mated.scores, data.mate_column, vmin0, size, reps, cfg.seed),
        },
        "with_check": {
            "threshold": vmin1,
            "fnir": fnir_at_size(mated1, data.mate_column, vmin1, size, reps, cfg.seed),
        },
        "normalised": {
            "threshold": vmin2,
            "fnir": fnir_at_size(mated2, data.mate_column, vmin2, size, reps, cfg.seed),
        },
    }
    return PowerAnalysis(
        crowd_faces=int(crowd.shape[0]),
        folds=folds,
        policy={
            "reference_threshold": full_policy.reference_threshold,
            "fmr": full_policy.fmr,
            "factor": full_policy.factor,
            "min_hits": full_policy.min_hits,
            "p_value": full_policy.p_value,
            "rule": gov.template_offsets,
            "max_lowering": gov.normalisation_max_lowering,
        },
        attractors=flagged,
        without_check=grid0,
        with_check=grid1,
        validated_min_without=vmin0,
        validated_without=ok0,
        validated_min_with=vmin1,
        validated_with=ok1,
        normalised=grid2,
        validated_min_normalised=vmin2,
        validated_normalised=ok2,
        normalised_offsets={
            "min": float(norm.min()) if norm.size else 0.0,
            "median": float(np.median(norm)) if norm.size else 0.0,
            "max": float(norm.max()) if norm.size else 0.0,
            "share_capped": float(np.mean(norm <= -gov.normalisation_max_lowering + 1e-9))
            if norm.size
            else 0.0,
            "max_lowering": gov.normalisation_max_lowering,
        },
        still_image=still,
    )
