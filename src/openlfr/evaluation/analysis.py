"""From one pack's scores to its figures: accuracy, watchlist-size scaling, equitability, alert precision.

Watchlist-size scaling. FPIR at size N for threshold t is the share of non-mated searches whose best score
over N enrolled templates is >= t. It is *measured* at sizes up to the enrolled set by drawing random
watchlists of N enrolled people (``subsample_repeats`` draws, thresholds averaged). Beyond the data it is
*extrapolated* from the pooled single-comparison false-match rate p1(t) (non-mated probe x enrolled template
pairs): FPIR(N, t) ~ 1 - (1 - p1(t))^N, which assumes comparisons are independent; the report checks this
prediction against the measured sizes. FNIR at an extrapolated size is the FNIR measured on the full
watchlist at the extrapolated threshold (more enrolled people can only add rank-1 impostors, so it is a
lower bound).

Equitability. On a grid of thresholds (those giving overall crowd FPIR levels at the full watchlist), FPIR
per race, sex and age band on the hygienic UTKFace crowd, FNIR per sex on LFW mated searches, each with
Clopper-Pearson 95% intervals. Differences: Fisher's exact test between every pair of groups of an attribute;
at each threshold the FPIR tests of all attributes form one family, Holm-corrected (family-wise alpha). The
validated minimum threshold is the lowest grid threshold at which, *and at every grid threshold above
which*, no FPIR difference is significant. The grid only holds thresholds that leave enough crowd false alerts
for a test to have any power (``MIN_GRID_ALERTS``); if a difference is significant at every one of them, the
pack is *not validated* and its minimum is set just above the highest crowd score seen. FNIR differences are reported but do not set it: the minimum
guards against unequal false alerts (innocent people stopped); a higher threshold never fixes FNIR gaps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from openlfr.config import EvaluationSettings
from openlfr.evaluation.metrics import (
    Rate,
    SingleComparisonTail,
    det_curve,
    fpir,
    just_above,
    pairwise_fisher,
    threshold_for_fpir,
)
from openlfr.evaluation.protocol import ScoreData, group_labels
from openlfr.evaluation.results import (
    DetCurve,
    EquitabilityEntry,
    FalseAlertsPer1000,
    FullWatchlistRow,
    GroupRate,
    PackResult,
    PrecisionAtPrevalence,
    ScalingCheck,
    ScalingRow,
    ScoreHistograms,
)

GRID_LEVELS = (0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003, 0.002, 0.001, 0.0005, 0.0002, 0.0001)
"""Overall crowd FPIR levels (full watchlist) whose thresholds form the equitability grid."""
MIN_GRID_ALERTS = 5
"""A grid threshold must leave at least this many crowd false alerts: with fewer, no test can detect a
difference between groups, and "no significant difference" would mean no evidence, not equal treatment.
(With the shared data's ~7,900 crowd faces the grid stops at crowd FPIR 0.1%.)"""
ATTRIBUTES = ("race", "sex", "age")


def _hits(data: ScoreData, t: float, columns: np.ndarray | None = None) -> tuple[int, int]:
    ms, r1 = data.mate_scores(columns)
    return int(np.sum(r1 & (ms >= t))), int(ms.size)


def analyse_pack(data: ScoreData, crowd_keep: np.ndarray, cfg: EvaluationSettings) -> PackResult:
    """All figures for one pack (``.as_dict()`` for JSON)."""
    alpha = cfg.alpha
    rng = np.random.default_rng(cfg.seed)
    n_full = data.watchlist_size
    nm_best = data.nonmated_best(crowd_keep=crowd_keep)
    crowd_best = data.crowd.best[crowd_keep]
    ms, r1 = data.mate_scores()
    n_mated_total = ms.size + len(data.mated.undetected)

    # Full watchlist: thresholds per FPIR target.
    full: list[FullWatchlistRow] = []
    for target in cfg.fpir_targets:
        t = threshold_for_fpir(nm_best, target)
        hits, n = _hits(data, t)
        full.append(
            FullWatchlistRow(
                fpir_target=target,
                threshold=t,
                fpir=Rate.of(int(np.sum(nm_best >= t)), nm_best.size, alpha),
                fnir=Rate.of(n - hits, n, alpha),
                fnir_incl_ftd=Rate.of(n_mated_total - hits, n_mated_total, alpha),
            )
        )

    # Pooled single-comparison tail (for extrapolation).
    crowd_scores = data.crowd.scores[crowd_keep]
    pooled = np.concatenate([crowd_scores.ravel(), data.lfw_nonmated.scores.ravel()])
    tail = SingleComparisonTail.from_scores(pooled)

    # Watchlist sizes: measured by subsampling, extrapolated above the data.
    sizes = sorted({*cfg.watchlist_sizes, n_full})
    scaling: list[ScalingRow] = []
    for n in sizes:
        for target in cfg.fpir_targets:
            if n <= n_full:
                thresholds, fnirs = [], []
                repeats = 1 if n == n_full else cfg.subsample_repeats
                for _ in range(repeats):
                    cols = np.sort(rng.choice(n_full, size=n, replace=False)) if n < n_full else None
                    best = data.nonmated_best(crowd_keep=crowd_keep, columns=cols)
                    t = threshold_for_fpir(best, target)
                    hits, m = _hits(data, t, cols)
                    thresholds.append(t)
                    fnirs.append(1 - hits / m if m else float("nan"))
                t_pred, support = tail.threshold_for(target, n)
                row = ScalingRow(
                    watchlist_size=n,
                    fpir_target=target,
                    method="measured",
                    threshold=float(np.mean(thresholds)),
                    threshold_sd=float(np.std(thresholds)),
                    fnir=float(np.nanmean(fnirs)),
                    repeats=repeats,
                    extrapolated_threshold=t_pred,
                    support=support,
                )
            else:
                t, support = tail.threshold_for(target, n)
                hits, m = _hits(data, t)
                row = ScalingRow(
                    watchlist_size=n,
                    fpir_target=target,
                    method="extrapolated",
                    threshold=t,
                    fnir=1 - hits / m if m else float("nan"),
                    support=support,
                )
            scaling.append(row)
    # A larger watchlist needs a threshold at least as strict: enforce it against sampling noise.
    for target in cfg.fpir_targets:
        running = float("-inf")
        for i, row in enumerate(scaling):
            if row.fpir_target == target:
                running = max(running, float(row.threshold))
                scaling[i] = dataclasses.replace(row, threshold=running)

    # Check of the extrapolation: measured FPIR at subsampled sizes vs 1-(1-p1)^N, at fixed thresholds.
    check: list[ScalingCheck] = []
    for entry in full:
        t = entry.threshold
        for n in sorted({100, 300, 1000, n_full} | {s for s in cfg.watchlist_sizes if s <= n_full}):
            if n > n_full:
                continue
            vals = []
            for _ in range(1 if n == n_full else cfg.subsample_repeats):
                cols = np.sort(rng.choice(n_full, size=n, replace=False)) if n < n_full else None
                vals.append(fpir(data.nonmated_best(crowd_keep=crowd_keep, columns=cols), t))
            check.append(
                ScalingCheck(
                    threshold=t,
                    watchlist_size=n,
                    measured_fpir=float(np.mean(vals)),
                    predicted_fpir=tail.predicted_fpir(t, n),
                )
            )

    thr, fp, fn = det_curve(ms, r1, nm_best)

    # Equitability grid.
    crowd_records = [r for r, k in zip(data.crowd.records, crowd_keep, strict=True) if k]
    labels = {a: np.array(group_labels(crowd_records, a, cfg.age_bands)) for a in ATTRIBUTES}
    mated_sex = np.array(group_labels(data.mated.records, "sex", cfg.age_bands))
    mated_hit_base = r1
    crowd_col = data.crowd.best_column[crowd_keep]

    def entry_at(level: float | None, t: float) -> EquitabilityEntry:
        """Group FPIRs, tests, FNIR by sex, precision and false alerts at one threshold."""
        crowd_alert = crowd_best >= t
        overall = Rate.of(int(crowd_alert.sum()), crowd_alert.size, alpha)
        groups: dict[str, dict[str, tuple[int, int]]] = {}
        per_group: dict[str, dict[str, GroupRate]] = {}
        for a in ATTRIBUTES:
            groups[a] = {}
            per_group[a] = {}
            for g in sorted(set(labels[a].tolist())):
                mask = labels[a] == g
                k, n = int(crowd_alert[mask].sum()), int(mask.sum())
                groups[a][g] = (k, n)
                r = Rate.of(k, n, alpha)
                # Can this group's data rule out a false-alert rate twice the overall one?
                per_group[a][g] = GroupRate(r, bool(overall.value > 0 and r.hi <= 2 * overall.value))
        tests = pairwise_fisher(groups, alpha)
        hit = mated_hit_base & (ms >= t)
        fnir_groups = {
            g: (int((~hit[mated_sex == g]).sum()), int((mated_sex == g).sum()))
            for g in sorted(set(mated_sex.tolist()))
            if g != "unknown"
        }
        fnir_tests = pairwise_fisher({"sex": fnir_groups}, alpha)
        # Alerts on the mix we ran (full watchlist): true = mated hits; false = non-mated alerts plus mated
        # searches whose rank-1 candidate above threshold is the wrong person.
        true_alerts = int(hit.sum())
        wrong_mated = int(np.sum(~mated_hit_base & (data.mated.best >= t)))
        nm_alerts = int(np.sum(nm_best >= t))
        nm_rate = Rate.of(nm_alerts, nm_best.size, alpha)
        tpir = Rate.of(true_alerts, ms.size, alpha)
        prev = cfg.assumed_prevalence

        def ppv(tp: float, fp_: float, prev: float = prev) -> float:
            # Bayes: share of alerts that are true when a share ``prev`` of faces is on the watchlist.
            den = prev * tp + (1 - prev) * fp_
            return prev * tp / den if den > 0 else float("nan")

        # Which enrolled people draw the crowd's false alerts: a few lookalike-prone templates (e.g. an infant
        # photo) can make a whole group's FPIR, which a watchlist owner can act on.
        alert_cols = crowd_col[crowd_alert]
        counts = (
            np.bincount(alert_cols, minlength=len(data.subjects)) if alert_cols.size else np.zeros(0, int)
        )
        top_subjects = [
            (data.subjects[int(j)], int(counts[j])) for j in np.argsort(-counts)[:5] if counts[j] > 0
        ]
        return EquitabilityEntry(
            top_alert_subjects=top_subjects,
            crowd_fpir_level=level,
            threshold=t,
            crowd_fpir=overall,
            groups=per_group,
            tests=tests,
            any_significant=any(x.significant for x in tests),
            fnir_by_sex={g: Rate.of(k, n, alpha) for g, (k, n) in fnir_groups.items()},
            fnir_tests=fnir_tests,
            fnir=Rate.of(int(ms.size - hit.sum()), int(ms.size), alpha),
            precision_on_mix=Rate.of(true_alerts, true_alerts + wrong_mated + nm_alerts, alpha),
            precision_at_prevalence=PrecisionAtPrevalence(
                prevalence=prev,
                value=ppv(tpir.value, nm_rate.value),
                ci_low=ppv(tpir.lo, nm_rate.hi),
                ci_high=ppv(tpir.hi, nm_rate.lo),
            ),
            false_alerts_per_1000=FalseAlertsPer1000(
                value=1000 * nm_rate.value,
                ci_low=1000 * nm_rate.lo,
                ci_high=1000 * nm_rate.hi,
                k=nm_alerts,
                n=nm_rate.n,
            ),
        )

    grid: list[EquitabilityEntry] = []
    seen: set[float] = set()
    for level in GRID_LEVELS:
        if level * crowd_best.size < MIN_GRID_ALERTS:
            continue
        t = threshold_for_fpir(crowd_best, level)
        if t in seen:
            continue
        seen.add(t)
        grid.append(entry_at(level, t))
    minimum, validated = validated_minimum(grid, float(crowd_best.max()))
    if not validated:
        # Show what the unvalidated minimum means for each group (no crowd false alert by construction).
        grid.append(dataclasses.replace(entry_at(None, minimum), beyond_grid=True))
    return PackResult(
        pack=data.pack,
        watchlist_size=n_full,
        failed_to_enrol=len(data.failed_to_enrol),
        failed_to_enrol_people=data.failed_to_enrol,
        low_quality_enrolments=data.low_quality_enrolments,
        mated_searches=int(ms.size),
        mated_failed_to_detect=len(data.mated.undetected),
        lfw_nonmated_searches=len(data.lfw_nonmated.records),
        lfw_nonmated_failed_to_detect=len(data.lfw_nonmated.undetected),
        crowd_searches=int(crowd_keep.sum()),
        crowd_excluded=int((~crowd_keep).sum()),
        crowd_failed_to_detect=len(data.crowd.undetected),
        nonmated_searches=int(nm_best.size),
        rank1=Rate.of(int(r1.sum()), int(ms.size), alpha),
        rank1_incl_ftd=Rate.of(int(r1.sum()), n_mated_total, alpha),
        full_watchlist=full,
        scaling=scaling,
        scaling_check=check,
        det=DetCurve(threshold=thr.tolist(), fpir=fp.tolist(), fnir=fn.tolist()),
        histograms=ScoreHistograms(
            mated=ms.tolist(),
            crowd_best=crowd_best.tolist(),
            lfw_nonmated_best=data.lfw_nonmated.best.tolist(),
        ),
        equitability=grid,
        validated_min_threshold=minimum,
        validated=validated,
    )


class GridPoint(Protocol):
    """What :func:`validated_minimum` reads of a grid entry."""

    @property
    def threshold(self) -> float: ...

    @property
    def any_significant(self) -> bool: ...


def validated_minimum(grid: Sequence[GridPoint], max_crowd_score: float) -> tuple[float, bool]:
    """(threshold, validated): the lowest grid threshold at and above which no FPIR difference between
    groups is significant. When even the strictest grid threshold shows a difference, nothing is validated
    and the minimum is set just above every crowd score seen (no false alert at all in this crowd; a
    deployment below it needs an audited override)."""
    ordered = sorted(grid, key=lambda g: g.threshold, reverse=True)
    best: float | None = None
    for g in ordered:
        if g.any_significant:
            break
        best = g.threshold
    if best is None:
        return just_above(max_crowd_score), False
    return float(best), True
