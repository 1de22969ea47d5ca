"""Settings for the gallery and the retrospective (RFR) and operator-initiated (OIFR) searches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from openlfr.config.strict import _Section


class RetroSettings(_Section):
    """The gallery, retrospective (RFR) and operator-initiated (OIFR) searches (issue 13)."""

    gallery: str = Field("custody", description="Gallery searched and imported into unless one is named.")
    index: str = Field(
        "ivf", pattern="^(ivf|exact)$", description="Gallery index: ivf (inverted lists + re-rank) or exact."
    )
    index_codes: Literal["pq4", "sq8"] = Field(
        "pq4",
        description="How the IVF lists store a template: pq4 (4-bit product-quantised fast-scan codes, the "
        "fastest to scan) or sq8 (int8 per dimension). Either is re-ranked exactly; see the benchmark.",
    )
    probe_share: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="Share of the IVF lists a search visits: recall against speed, the same at any gallery "
        "size (benchmarks/gallery_index.py measures it at 1M and 10M).",
    )
    refine_factor: int = Field(
        200,
        ge=0,
        description="Shortlist of refine_factor x k found by the codes, re-scored with fp16 copies (at 10M, "
        "80 kept recall@20 at 0.988, 200 at 0.996: benchmarks/gallery_index.py).",
    )
    train_after: int = Field(
        50_000, ge=1000, description="Templates searched exactly until the IVF quantiser is trained on them."
    )
    rfr_top_k: int = Field(20, ge=1, le=200, description="Candidates per face in a retrospective search.")
    oifr_top_k: int = Field(
        6, ge=1, le=50, description="Candidates returned by an operator-initiated search."
    )
    case_retention_days: float = Field(
        365.0, gt=0, description="How long an RFR case, its probe images and candidate lists are kept."
    )
    video_frame_budget: int = Field(
        3000,
        ge=10,
        description="Most frames of one video that are analysed; a longer video is sampled evenly.",
    )
    best_shots_per_track: int = Field(3, ge=1, description="Best shots of a video track that are searched.")
    import_checkpoint: int = Field(
        200, ge=1, description="Gallery import commits (and saves the index) every this many images."
    )
    rfr_enabled: bool = Field(
        True,
        description="Whether this force uses retrospective facial recognition (RFR). Off: every RFR path (CLI, "
        "API, page) refuses with a message saying so, and the public page says RFR is not in use.",
    )
    oifr_enabled: bool = Field(
        True,
        description="Whether this force uses operator-initiated facial recognition (OIFR). Off: every OIFR path "
        "(CLI, API, page) refuses with a message saying so, and the public page says OIFR is not in use.",
    )
    policy_ref: str = Field(
        "",
        max_length=200,
        description="Reference of the force's RFR policy document, recorded with every case that names none; "
        "a case is refused when neither gives one.",
    )
    dpia_ref: str = Field(
        "",
        max_length=200,
        description="Reference of the data protection impact assessment covering RFR, recorded with every "
        "case that names none; a case is refused when neither gives one.",
    )
    people_choice_minutes: float = Field(
        10.0,
        gt=0,
        le=60,
        description="How long the people found in uploaded RFR media (thumbnails and templates, in memory only) "
        "wait for the officer to choose whom to search before they are wiped.",
    )
    dominant_face_margin: float = Field(
        1.5,
        ge=1.0,
        description="Gallery import: a custody image with several faces enrols the most prominent (area x "
        "centrality); when it is less than this many times as prominent as the next face the record is "
        "also flagged 'subject unclear' for the reviewer.",
    )
    oifr_outcome_chase_hours: float = Field(
        24.0,
        gt=0,
        description="An OIFR list whose officer has recorded no outcome after this many hours is listed on the "
        "supervisor view to be chased.",
    )
    evaluation_gallery_sizes: list[PositiveInt] = Field(
        [10_000, 100_000, 1_000_000],
        description="Gallery sizes at which `openlfr evaluate` measures rank-k identification rates: the real "
        "gallery, then real plus synthetic distractors up to each size larger than it.",
    )
    evaluation_max_gallery: int = Field(
        1_000_000,
        ge=0,
        description="Largest gallery `openlfr evaluate` builds for rank-k rates (0: the real gallery only); "
        "the CLI's --max-gallery overrides it.",
    )
    evaluation_ranks: list[PositiveInt] = Field(
        [1, 6, 20], description="Ranks k at which `openlfr evaluate` reports rank-k identification rates."
    )
