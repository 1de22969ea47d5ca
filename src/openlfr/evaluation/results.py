"""The typed results of one pack's evaluation, carried from the analysis to the report and calibration.

:func:`openlfr.evaluation.analysis.analyse_pack` builds a :class:`PackResult`; the report, the calibration
file and the CLI read its fields. ``as_dict()`` gives the JSON form written to ``results.json`` (the same
keys as before these types existed, so files written earlier read the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from openlfr.evaluation.metrics import GroupTest, Rate

SAME_THRESHOLD = 1e-12
"""Two thresholds closer than this are the same grid point."""


@dataclass(frozen=True)
class GroupRate:
    """One demographic group's FPIR, and whether its data rule out twice the overall rate."""

    rate: Rate
    conclusive: bool

    def as_dict(self) -> dict[str, Any]:
        return {**self.rate.as_dict(), "conclusive": self.conclusive}


@dataclass(frozen=True)
class FullWatchlistRow:
    """The full enrolled watchlist at the threshold meeting one FPIR target."""

    fpir_target: float
    threshold: float
    fpir: Rate
    fnir: Rate
    fnir_incl_ftd: Rate
    """FNIR counting mated searches with no face found as misses."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "fpir_target": self.fpir_target,
            "threshold": self.threshold,
            "fpir": self.fpir.as_dict(),
            "fnir": self.fnir.as_dict(),
            "fnir_incl_ftd": self.fnir_incl_ftd.as_dict(),
        }


@dataclass(frozen=True)
class ScalingRow:
    """The threshold for one FPIR target at one watchlist size, measured or extrapolated."""

    watchlist_size: int
    fpir_target: float
    method: Literal["measured", "extrapolated"]
    threshold: float
    fnir: float
    support: int
    """Pooled single comparisons at or above the extrapolated threshold (small = a thin estimate)."""
    threshold_sd: float | None = None
    """Measured only: spread of the threshold over the random watchlists drawn."""
    repeats: int | None = None
    """Measured only: random watchlists drawn."""
    extrapolated_threshold: float | None = None
    """Measured only: what 1-(1-p1)^N would have given, to check the extrapolation."""

    def as_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "watchlist_size": self.watchlist_size,
            "fpir_target": self.fpir_target,
            "method": self.method,
            "threshold": self.threshold,
        }
        if self.method == "measured":
            return head | {
                "threshold_sd": self.threshold_sd,
                "fnir": self.fnir,
                "repeats": self.repeats,
                "extrapolated_threshold": self.extrapolated_threshold,
                "support": self.support,
            }
        return head | {"fnir": self.fnir, "support": self.support}


@dataclass(frozen=True)
class ScalingCheck:
    """Measured FPIR at a subsampled watchlist size against the 1-(1-p1)^N prediction, at one threshold."""

    threshold: float
    watchlist_size: int
    measured_fpir: float
    predicted_fpir: float

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class DetCurve:
    """FPIR and FNIR over thresholds (full watchlist)."""

    threshold: list[float]
    fpir: list[float]
    fnir: list[float]

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class ScoreHistograms:
    """The score distributions the report plots (full watchlist)."""

    mated: list[float]
    """Score of each mated search's mate."""
    crowd_best: list[float]
    """Best score of each crowd face kept after hygiene."""
    lfw_nonmated_best: list[float]
    """Best score of each held-out LFW face."""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class PrecisionAtPrevalence:
    """Share of alerts that are true when a share ``prevalence`` of faces is on the watchlist (Bayes)."""

    prevalence: float
    value: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class FalseAlertsPer1000:
    """1,000 x FPIR over all non-mated searches, with its interval and counts."""

    value: float
    ci_low: float
    ci_high: float
    k: int
    n: int

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass(frozen=True)
class EquitabilityEntry:
    """Everything measured at one threshold of the equitability grid."""

    top_alert_subjects: list[tuple[str, int]]
    """Enrolled people drawing the most crowd false alerts, with their counts."""
    crowd_fpir_level: float | None
    """The overall crowd FPIR level this threshold was chosen for (None: the unvalidated minimum)."""
    threshold: float
    crowd_fpir: Rate
    groups: dict[str, dict[str, GroupRate]]
    """attribute (race, sex, age) -> group -> its FPIR."""
    tests: list[GroupTest]
    """Fisher's exact test between every pair of groups, Holm-corrected over the family."""
    any_significant: bool
    fnir_by_sex: dict[str, Rate]
    fnir_tests: list[GroupTest]
    fnir: Rate
    precision_on_mix: Rate
    precision_at_prevalence: PrecisionAtPrevalence
    false_alerts_per_1000: FalseAlertsPer1000
    beyond_grid: bool = False
    """Added past the grid to show the unvalidated minimum (no crowd false alert by construction)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "top_alert_subjects": self.top_alert_subjects,
            "crowd_fpir_level": self.crowd_fpir_level,
            "threshold": self.threshold,
            "crowd_fpir": self.crowd_fpir.as_dict(),
            "groups": {a: {g: v.as_dict() for g, v in gs.items()} for a, gs in self.groups.items()},
            "tests": [vars(t) for t in self.tests],
            "any_significant": self.any_significant,
            "fnir_by_sex": {g: r.as_dict() for g, r in self.fnir_by_sex.items()},
            "fnir_tests": [vars(t) for t in self.fnir_tests],
            "fnir": self.fnir.as_dict(),
            "precision_on_mix": self.precision_on_mix.as_dict(),
            "precision_at_prevalence": self.precision_at_prevalence.as_dict(),
            "false_alerts_per_1000": self.false_alerts_per_1000.as_dict(),
        }
        if self.beyond_grid:
            out["beyond_grid"] = True
        return out


@dataclass(frozen=True)
class PackResult:
    """All figures for one pack."""

    pack: str
    watchlist_size: int
    failed_to_enrol: int
    failed_to_enrol_people: list[str]
    low_quality_enrolments: int
    mated_searches: int
    mated_failed_to_detect: int
    lfw_nonmated_searches: int
    lfw_nonmated_failed_to_detect: int
    crowd_searches: int
    crowd_excluded: int
    crowd_failed_to_detect: int
    nonmated_searches: int
    rank1: Rate
    rank1_incl_ftd: Rate
    """Rank-1 identification rate counting mated searches with no face found as misses."""
    full_watchlist: list[FullWatchlistRow]
    scaling: list[ScalingRow]
    scaling_check: list[ScalingCheck]
    det: DetCurve
    histograms: ScoreHistograms
    equitability: list[EquitabilityEntry]
    validated_min_threshold: float
    validated: bool
    """False when a difference between groups remains at every grid threshold."""
    power: dict[str, Any] | None = None
    """Validation with power (``evaluation.power``): TPIR beside group FPIRs, ratios, attractors."""

    def at_threshold(self, threshold: float) -> EquitabilityEntry | None:
        """The equitability entry measured at this threshold, if the grid has it."""
        return next((g for g in self.equitability if abs(g.threshold - threshold) < SAME_THRESHOLD), None)

    @property
    def at_validated_minimum(self) -> EquitabilityEntry | None:
        return self.at_threshold(self.validated_min_threshold)

    @property
    def at_crowd_fpir_1pc(self) -> EquitabilityEntry | None:
        """The entry at the threshold giving overall crowd FPIR 1% (a lax point, to show differences)."""
        return next(
            (
                g
                for g in self.equitability
                if g.crowd_fpir_level is not None and abs(g.crowd_fpir_level - 0.01) < SAME_THRESHOLD
            ),
            None,
        )

    def as_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """The JSON form; ``curves=False`` leaves out the DET curve and the histograms (``results.json``)."""
        out: dict[str, Any] = {
            "pack": self.pack,
            "watchlist_size": self.watchlist_size,
            "failed_to_enrol": self.failed_to_enrol,
            "failed_to_enrol_people": self.failed_to_enrol_people,
            "low_quality_enrolments": self.low_quality_enrolments,
            "mated_searches": self.mated_searches,
            "mated_failed_to_detect": self.mated_failed_to_detect,
            "lfw_nonmated_searches": self.lfw_nonmated_searches,
            "lfw_nonmated_failed_to_detect": self.lfw_nonmated_failed_to_detect,
            "crowd_searches": self.crowd_searches,
            "crowd_excluded": self.crowd_excluded,
            "crowd_failed_to_detect": self.crowd_failed_to_detect,
            "nonmated_searches": self.nonmated_searches,
            "rank1": self.rank1.as_dict(),
            "rank1_incl_ftd": self.rank1_incl_ftd.as_dict(),
            "full_watchlist": [r.as_dict() for r in self.full_watchlist],
            "scaling": [r.as_dict() for r in self.scaling],
            "scaling_check": [c.as_dict() for c in self.scaling_check],
        }
        if curves:
            out["det"] = self.det.as_dict()
            out["histograms"] = self.histograms.as_dict()
        out["equitability"] = [g.as_dict() for g in self.equitability]
        out["validated_min_threshold"] = self.validated_min_threshold
        out["validated"] = self.validated
        if self.power is not None:
            out["power"] = self.power
        return out
