"""Settings for governing deployments and watchlists: deployment limits, enrolment checks (ambiguity,
duplicates, attraction), templates, documents, notice and the rank that may authorise.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from openlfr.config.strict import _Section
from openlfr.ranks import RANKS, UnknownRank, parse_rank


class GovernanceSettings(_Section):
    """Deployments and watchlists."""

    max_deployment_hours: float = Field(
        168.0, gt=0, description="Longest window a deployment may be authorised for."
    )
    ambiguous_face_ratio: float = Field(
        0.7,
        gt=0,
        le=1,
        description="An enrolment image whose second face is at least this share of the "
        "largest face's size is refused as ambiguous.",
    )
    duplicate_similarity: dict[str, float] = Field(
        # Measured on LFW (one image per person, 45k-245k different-person pairs per pack): each value is
        # above the highest different-person score seen, because a 1:1 threshold (~1% false matches)
        # would refuse most of a 10,000-subject watchlist as "duplicates". Packs not listed fall back to
        # their 1:1 verification threshold.
        {"opencv-zoo": 0.55, "insightface-s": 0.40, "dlib": 0.96},
        description="Per pack: similarity at which an enrolment image is refused as the same person as "
        "another enrolled subject.",
    )
    attraction_check: bool = Field(
        True,
        description="At enrolment, compare each reference template with the pack's reference crowd "
        "(written by `openlfr evaluate`) and give a template that attracts strangers its own higher threshold.",
    )
    attraction_fmr: float = Field(
        1e-3,
        gt=0.0,
        lt=0.1,
        description="Reference level of the attraction check: the share of strangers an ordinary template "
        "matches at the pack's reference threshold.",
    )
    attraction_factor: float = Field(
        5.0, gt=1.0, description="A template matching this many times the expected strangers is an attractor."
    )
    attraction_min_hits: int = Field(
        5, ge=1, description="...and at least this many reference-crowd faces (few hits prove nothing)."
    )
    attraction_p_value: float = Field(
        1e-3, gt=0.0, lt=0.5, description="...and significantly so (one-sided binomial test at this level)."
    )
    template_offsets: Literal["attractors", "normalised"] = Field(
        "normalised",
        description="Which templates `openlfr evaluate` gives offsets against the reference crowd and "
        "validates the minimum with: only attractors (raised), or every template (normalised, signed: each "
        "matches the same share of the crowd at the threshold). It is written into the reference crowd, and "
        "enrolment applies the rule the crowd carries (matching/attraction.py).",
    )
    normalisation_max_lowering: float = Field(
        # Normalised offsets learnt on UTKFace run from about -0.15 to +0.3 (benchmarks, issue 12 round 5); the
        # cap keeps a template whose crowd scores are low only because its kind of face is scarce in the
        # reference crowd from being eased far below the deployment's bar.
        0.1,
        ge=0.0,
        le=0.3,
        description="Under normalised offsets: the most a template's own threshold may sit below the "
        "deployment's.",
    )
    template_fusion: Literal["max", "mean"] = Field(
        # Measured (benchmarks/enrolment_fusion.py, opencv-zoo, LFW people with 3+ images enrolled from 2):
        # FNIR at the validated minimum 26.5% with one reference, 14.9% with max over two, 10.0% fused.
        "mean",
        description="How a subject's several reference templates are scored against a probe: the best "
        "single reference (max) or their normalised mean (a fused template). Chosen by "
        "benchmarks/enrolment_fusion.py.",
    )
    max_document_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest deployment document (DPIA, EIA, policy: PDF or HTML) that may be stored and "
        "published with `openlfr deployment document`.",
    )
    notice_hours: float = Field(
        24.0,
        gt=0,
        description="A deployment is announced at least this long before it opens, unless a short-notice "
        "reason is given (audited, published as short notice).",
    )
    target_fpir: float = Field(
        0.001,
        gt=0,
        lt=1,
        description="FPIR the opening threshold must meet for the watchlist's actual size (from the pack's "
        "calibration); below it an override reason is needed.",
    )
    min_authorising_rank: str = Field(
        "superintendent",
        description="Lowest police rank that may authorise (open) a deployment; the authorising officer is "
        "the logged-in user who opens it, with the rank an admin recorded for them (`openlfr user rank`). "
        "One of: " + ", ".join(r.key for r in RANKS) + ".",
    )

    @field_validator("min_authorising_rank")
    @classmethod
    def _known_rank(cls, value: str) -> str:
        try:
            return parse_rank(value).key
        except UnknownRank as exc:
            raise ValueError(str(exc)) from None
