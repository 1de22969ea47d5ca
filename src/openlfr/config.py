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
from typing import Any

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
        640, ge=160, le=4096, description="Frames wider than this are detected at this width, then mapped back."
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


class ServerSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    public_base_url: str = Field("http://127.0.0.1:8765", description="Used in signage QR codes.")
    session_hours: float = Field(8.0, gt=0)
    login_attempts_per_minute: int = Field(5, ge=1)
    secure_cookies: bool = Field(True, description="Mark cookies Secure (turn off only for plain-HTTP tests).")


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
    vision: VisionSettings = Field(default_factory=VisionSettings)  # type: ignore[arg-type]
    quality: QualitySettings = Field(default_factory=QualitySettings)  # type: ignore[arg-type]
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]
    retention: RetentionSettings = Field(default_factory=RetentionSettings)  # type: ignore[arg-type]
    live: LiveSettings = Field(default_factory=LiveSettings)  # type: ignore[arg-type]
    server: ServerSettings = Field(default_factory=ServerSettings)  # type: ignore[arg-type]

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
