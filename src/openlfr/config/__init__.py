"""The one typed settings object.

Every threshold, retention period, path and limit that a force may want to change lives here, read from
(highest priority first) keyword arguments, environment variables ``OPENLFR_*`` (nested with ``__``, e.g.
``OPENLFR_QUALITY__MIN_FACE_PX=48``), a TOML file (``OPENLFR_CONFIG`` or ``./openlfr.toml``; nested
sections as TOML tables), then the defaults below.

Unknown keys are errors, never ignored: a typo such as ``[retention] alert_retention_hour = 24`` would
otherwise leave a safeguard at its default without a word. The error names the key and the nearest valid
one. The same holds for environment variables that address a setting (``OPENLFR_<SECTION>__<KEY>``, or a name
close to a setting's); the project's other variables (:data:`OTHER_ENV_VARS`) are left alone.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from openlfr.config.bus import BusSettings
from openlfr.config.evaluation import EvaluationSettings
from openlfr.config.governance import GovernanceSettings
from openlfr.config.live import LiveSettings
from openlfr.config.retro import RetroSettings
from openlfr.config.server import ServerSettings
from openlfr.config.store import RetentionSettings, StoreSettings
from openlfr.config.strict import _keys, _nearest, _refuse_unknown_keys, _Section, _section_of
from openlfr.config.vision import QualitySettings, VisionSettings
from openlfr.errors import OpenLFRError

__all__ = [
    "ENV_PREFIX",
    "OTHER_ENV_VARS",
    "BusSettings",
    "EvaluationSettings",
    "GovernanceSettings",
    "LiveSettings",
    "QualitySettings",
    "RetentionSettings",
    "RetroSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "StoreSettings",
    "VisionSettings",
    "_Section",
    "_check_env",
    "_section_of",
    "get_settings",
]

ENV_PREFIX = "OPENLFR_"
OTHER_ENV_VARS = frozenset({"OPENLFR_CONFIG", "OPENLFR_TEST_POSTGRES_URL", "OPENLFR_CHROMIUM"})
"""``OPENLFR_*`` variables the project reads that are not settings: the TOML file's path, the test
database, the Chromium binary for PDF signage. (``OPENLFR_DATA`` is the ``dataset_dir`` setting.)"""


class SettingsError(OpenLFRError, ValueError):
    """The configuration (TOML file, ``OPENLFR_*`` variables or arguments) has an unknown key or a bad value."""


def _default_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "openlfr"


def _toml_path() -> Path:
    return Path(os.environ.get("OPENLFR_CONFIG", "openlfr.toml"))


class Settings(BaseSettings):
    """All of openlfr's configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        populate_by_name=True,
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
    bus: BusSettings = Field(default_factory=BusSettings)
    retro: RetroSettings = Field(default_factory=RetroSettings)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            toml_path = _toml_path()
            where = (
                f" (read from {toml_path}, OPENLFR_* variables and arguments)" if toml_path.is_file() else ""
            )
            raise SettingsError(f"bad configuration{where}: {_describe(exc)}") from None

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        return _refuse_unknown_keys(cls, data, top_level=cls is Settings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _toml_path()
        _check_env(os.environ)
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
    def bus_central_key_file(self) -> Path:
        return self.bus.central_key_file or self.data_dir / "bus-central.key"

    @property
    def audit_key_file(self) -> Path:
        return self.store.audit_key_file or self.master_key_file.parent / "audit.key"

    @property
    def audit_checkpoint_dir(self) -> Path:
        return self.store.audit_checkpoint_dir or self.data_dir / "audit-checkpoints"

    @property
    def cli_token_file(self) -> Path:
        return self.server.cli_token_file or self.data_dir / "cli-token"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


def _describe(exc: ValidationError) -> str:
    """One line per problem, each naming where it is (``retention.alert_retention_hour``)."""
    lines = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" if where else msg)
    return "; ".join(lines)


def _check_env(environ: Mapping[str, str]) -> None:
    """Refuse ``OPENLFR_*`` variables that address no setting.

    pydantic-settings reads only the names it knows, so ``OPENLFR_RETENTON__ALERT_RETENTION_HOURS`` (section
    misspelt) or ``OPENLFR_DATADIR`` would be ignored. A name with ``__`` always addresses a setting and
    is checked in full; a plain name is checked only when it is close to a setting's name, since the
    project (and a force's own scripts) may use other ``OPENLFR_*`` variables."""
    fields = Settings.model_fields
    top: dict[str, str] = {}  # the variable's suffix (lower case) -> field name
    for name, field in fields.items():
        alias = field.validation_alias
        if isinstance(alias, str):
            top[alias.lower().removeprefix(ENV_PREFIX.lower())] = name
        else:
            top[name] = name
    for var in environ:
        if not var.upper().startswith(ENV_PREFIX) or var.upper() in OTHER_ENV_VARS:
            continue
        parts = var[len(ENV_PREFIX) :].lower().split("__")
        if len(parts) == 1 and (parts[0] in top or not _nearest(parts[0], top, cutoff=0.8)):
            # A setting, or a variable not within a typo of any setting's name (OPENLFR_TOKEN is not
            # OPENLFR_STORE misspelt): a script's own variable, not meant as a setting.
            continue
        model: type[BaseModel] = Settings
        valid: Mapping[str, str] = top
        for depth, part in enumerate(parts):
            if part not in valid:
                close = difflib.get_close_matches(part, list(valid), n=1, cutoff=0.6)
                hint = ""
                if close:
                    meant = ENV_PREFIX + "__".join([*parts[:depth], close[0], *parts[depth + 1 :]]).upper()
                    hint = f" (did you mean {meant}?)"
                where = ".".join(parts[: depth + 1])
                raise SettingsError(
                    f"environment variable {var} names no setting: {where!r} is unknown{hint}"
                )
            section = _section_of(model.model_fields[valid[part]])
            if section is None:
                break  # a plain value, or a dict whose keys are the user's (camera ids, pack names)
            model, valid = section, _keys(section)


@lru_cache(maxsize=1)
def get_settings(**overrides: Any) -> Settings:
    """The process-wide settings (cached). Tests build their own ``Settings(...)`` instead."""
    return Settings(**overrides)
