"""The one typed settings object.

Every threshold, retention period, path and limit that a force may want to change lives here, read from
(highest priority first) keyword arguments, environment variables ``OPENLFR_*`` (nested with ``__``, e.g.
``OPENLFR_QUALITY__MIN_FACE_PX=48``), a TOML file (``OPENLFR_CONFIG`` or ``./openlfr.toml``; nested
sections as TOML tables), then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "openlfr"


class VisionSettings(BaseModel):
    """Detection and embedding."""

    pack: str = Field("opencv-zoo", description="Model pack used unless a deployment names another.")
    threads: int = Field(2, ge=1, le=64, description="Inference threads (ONNX Runtime / OpenCV / dlib).")
    detection_score: float = Field(0.6, ge=0.05, le=0.99, description="Minimum detector confidence.")
    nms_iou: float = Field(0.3, ge=0.05, le=0.95)
    working_width: int = Field(
        640,
        ge=160,
        le=4096,
        description="Frames wider than this are detected at this width, then mapped back.",
    )
    min_detect_px: int = Field(
        16, ge=8, description="Faces narrower than this (full-resolution pixels) are not reported."
    )
    flip_augment: bool = Field(
        True, description="Embed the aligned face and its mirror image and average them (more accurate)."
    )
    max_image_pixels: int = Field(
        60_000_000, ge=1_000_000, description="Larger images are refused (decompression-bomb guard)."
    )
    max_image_bytes: int = Field(50 * 1024 * 1024, ge=1024)


class QualitySettings(BaseModel):
    """The quality bar: a face below any of these is reported with the reason, and not enrolled."""

    min_face_px: float = Field(32.0, description="Shorter side of the face box, in full-resolution pixels.")
    min_inter_eye_px: float = Field(16.0)
    max_yaw_deg: float = Field(40.0)
    max_pitch_deg: float = Field(35.0)
    max_roll_deg: float = Field(35.0)
    min_sharpness: float = Field(40.0, description="Variance of the Laplacian of the aligned 112x112 face.")
    min_brightness: float = Field(40.0, description="Mean grey level of the aligned face, 0-255.")
    max_brightness: float = Field(220.0)
    enrol_min_score: float = Field(0.5, ge=0.0, le=1.0, description="Quality score needed to enrol.")


class StoreSettings(BaseModel):
    database_url: str | None = Field(
        None, description="SQLAlchemy URL. Default: SQLite (WAL) in the data directory."
    )
    master_key_file: Path | None = Field(
        None, description="File holding the 32-byte master key (base64). Default: <data_dir>/master.key."
    )


class RetentionSettings(BaseModel):
    alert_retention_hours: float = Field(720.0, gt=0, description="How long alert data is kept (30 days).")
    purge_interval_minutes: float = Field(15.0, gt=0, description="How often the server runs the purge.")
    auto_close_ended_deployments: bool = Field(
        True, description="The purge closes deployments left open past their end (destroying the watchlist)."
    )


class GovernanceSettings(BaseModel):
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


class LiveSettings(BaseModel):
    """Live pipeline and alert policy."""

    min_hits: int = Field(2, ge=1, description="Searches above threshold a track needs before it alerts.")
    cooldown_seconds: float = Field(60.0, ge=0, description="One alert per subject per camera per this.")
    track_iou: float = Field(0.3, ge=0.0, le=1.0)
    track_max_age_s: float = Field(1.0, gt=0, description="A track unseen for this long has ended.")
    reembed_quality_gain: float = Field(
        0.1, ge=0.0, description="Re-embed a track only when its best shot improves by this much."
    )
    max_queue_frames: int = Field(2, ge=1, description="Frames waiting per source; more are dropped.")
    reconnect_initial_s: float = Field(0.5, gt=0)
    reconnect_max_s: float = Field(30.0, gt=0)
    open_timeout_s: float = Field(5.0, gt=0, description="Give up opening or reading a stream after this.")
    scan_check_interval_s: float = Field(
        5.0, gt=0, description="How often a running source re-checks that its deployment allows scanning."
    )
    counters_interval_s: float = Field(
        5.0,
        gt=0,
        description="How often counters go to the deployment (also before each alert and at shutdown), so a "
        "killed worker loses at most this long of faces seen.",
    )
    confirm_every_frames: int = Field(
        2, ge=1, description="A track with an unconfirmed match above threshold is searched again this often."
    )
    max_embeds_per_frame: int = Field(
        3, ge=1, description="Best shots embedded per frame at most; the rest wait for the next frames."
    )
    search_top_k: int = Field(3, ge=1, description="Candidates per search kept in a track's evidence.")
    aggregation: Literal["fused", "weighted_top", "max"] = Field(
        "fused",
        description="How a track's searches make one score per subject: 'fused' searches the weighted mean "
        "of its best shots' embeddings, 'weighted_top' averages the scores of its heaviest searches, 'max' "
        "takes the best single search (chosen by benchmarks/live_ablation.py).",
    )
    evidence_shots: int = Field(
        3, ge=1, description="Heaviest shots (face size x quality) a track's aggregate is made of."
    )
    reembed_growth: float = Field(
        1.25,
        ge=1.0,
        description="Re-embed a track when its face is this many times wider than the largest shot embedded "
        "so far (people walk towards the camera: the close-up matters most); a large value turns it off.",
    )
    refine_below_px: float = Field(
        96.0,
        ge=0,
        description="Faces narrower than this (full-resolution px) that are about to be embedded get their "
        "landmarks found again at full resolution, for a sharper alignment (0: off).",
    )
    research_every_frames: int = Field(
        4,
        ge=0,
        description="Also re-embed a track's face every this many frames (0: only when new, grown, improved "
        "or awaiting confirmation); more shots for the fused template (chosen by benchmarks/live_ablation.py).",
    )
    research_margin: float = Field(
        0.15,
        ge=0.0,
        description="The periodic re-embed is only for tracks whose best subject scores within this of the "
        "threshold (1.0: every track).",
    )
    reassess_every_frames: int = Field(
        5, ge=1, description="Quality of an already searched track's face is re-measured this often."
    )
    flip_augment: bool = Field(
        True,
        description=(
            "Embed live probes with their mirror image too, as enrolment and the evaluation do, so the "
            "calibrated thresholds hold for live scores (measured cost: 54 -> 49 fps unpaced on the crowd clip)."
        ),
    )
    paced_files: bool = Field(
        True, description="Play video files at their own frame rate (drops counted), not as fast as possible."
    )
    folder_fps: float = Field(1.0, gt=0, description="Frame rate a folder of images is treated as having.")
    crop_margin: float = Field(0.3, ge=0, description="Margin around the face box in an alert's face crop.")
    frame_crop_scale: float = Field(4.0, ge=1, description="Width of an alert's scene crop, in face widths.")
    jpeg_quality: int = Field(90, ge=50, le=100, description="JPEG quality of alert images.")


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    public_base_url: str = Field("http://127.0.0.1:8765", description="Used in signage QR codes.")
    session_hours: float = Field(8.0, gt=0)
    login_attempts_per_minute: int = Field(5, ge=1)
    secure_cookies: bool = Field(
        True, description="Mark cookies Secure (turn off only for plain-HTTP tests)."
    )
    login_lockout_seconds: float = Field(
        60.0, gt=0, description="Window over which failed logins (per user and per address) are counted."
    )
    token_hours: float = Field(12.0, gt=0, description="Lifetime of an API bearer token.")
    public_requests_per_minute: int = Field(
        60, ge=1, description="Per-address limit on the public transparency pages and feeds."
    )
    public_cache_seconds: int = Field(
        300, ge=0, description="Cache-Control max-age of public pages and feeds."
    )
    webhook_url: str | None = Field(
        None, description="If set, every alert is also POSTed here (JSON, signed with HMAC-SHA256)."
    )
    webhook_secret: str | None = Field(None, description="Shared secret for the webhook's HMAC signature.")
    webhook_timeout_s: float = Field(5.0, gt=0)
    run_live: bool = Field(True, description="Run the live pipeline for open deployments inside `serve`.")
    run_purge: bool = Field(True, description="Run the scheduled purge inside `serve`.")
    camera_sources: dict[str, str] = Field(
        default_factory=dict,
        description="camera id -> source (file, folder, rtsp://..., webcam 0). `serve` runs the live pipeline "
        "for every open deployment's cameras found here.",
    )
    live_check_seconds: float = Field(
        5.0, gt=0, description="How often `serve` looks for deployments to run."
    )
    force_name: str = Field(
        "the police force", description="Who runs the deployments (signage, public page)."
    )
    contact: str = Field("", description="How the public can ask questions (signage, public page).")
    legal_basis_summary: str = Field(
        "Common-law policing powers, with sensitive processing under Part 3 of the Data Protection Act 2018 "
        "(strictly necessary for law enforcement)",
        description="Legal basis shown for a deployment recorded without one of its own (before migration 0003).",
    )


class EvaluationSettings(BaseModel):
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
    seed: int = 2019


class Settings(BaseSettings):
    """All of openlfr's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="OPENLFR_",
        env_nested_delimiter="__",
        extra="ignore",
        toml_file=None,
    )

    data_dir: Path = Field(default_factory=_default_home, description="Where the embedded store lives.")
    dataset_dir: Path = Field(
        Path("../shared/data"),
        validation_alias="OPENLFR_DATA",
        description="Shared evaluation data (LFW, UTKFace, ...). Env: OPENLFR_DATA.",
    )
    vision: VisionSettings = Field(default_factory=VisionSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    evaluation: EvaluationSettings = Field(default_factory=EvaluationSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("OPENLFR_CONFIG", "openlfr.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    @property
    def database_url(self) -> str:
        if self.store.database_url:
            return self.store.database_url
        return f"sqlite:///{self.data_dir / 'openlfr.db'}"

    @property
    def master_key_file(self) -> Path:
        return self.store.master_key_file or self.data_dir / "master.key"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    """The process-wide settings (cached). Tests build their own ``Settings(...)`` instead."""
    return Settings(**overrides)
