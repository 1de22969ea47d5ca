"""Settings for the accuracy and equitability evaluation (``openlfr evaluate``) and its calibration."""

from __future__ import annotations

from pydantic import Field

from openlfr.config.strict import _Section


class EvaluationSettings(_Section):
    """Accuracy and equitability evaluation (``openlfr evaluate``) and the calibration it writes."""

    fpir_targets: list[float] = Field(
        [0.01, 0.001], description="False-positive identification rates that thresholds are calibrated for."
    )
    watchlist_sizes: list[int] = Field(
        [100, 300, 1000, 10000],
        description="Watchlist sizes calibrated; sizes above the data are extrapolated.",
    )
    subsample_repeats: int = Field(5, ge=1, description="Random watchlists drawn per measured size.")
    lfw_holdout_fraction: float = Field(
        0.25, gt=0.0, lt=1.0, description="Share of single-image LFW people left out as non-mated searches."
    )
    age_bands: list[int] = Field(
        [0, 18, 25, 35, 45, 55, 65],
        description="Lower edges of the age bands (0-17 is children, its own band).",
    )
    alpha: float = Field(0.05, gt=0.0, lt=0.5, description="Family-wise significance level (Holm-corrected).")
    hygiene_fmr: float = Field(
        1e-6,
        gt=0.0,
        lt=0.01,
        description="Crowd hygiene: strict threshold = score exceeded by this share of known-different LFW pairs.",
    )
    hygiene_max_per_subject: int = Field(
        5,
        ge=1,
        description="Crowd hygiene: an enrolled person reached by more crowd faces than this attracts strangers "
        "(a lookalike-prone template), so those pairs are kept as false alerts, not excluded.",
    )
    assumed_prevalence: float = Field(
        0.001, gt=0.0, lt=1.0, description="Share of faces passing a camera that are on the watchlist."
    )
    seed: int = Field(
        2019,
        description="Seed of the random draws (held-out people, watchlist samples, crowd folds): same seed, same figures.",
    )
