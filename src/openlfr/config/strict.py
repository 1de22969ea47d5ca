"""Strict keys: the base of every settings section, which refuses an unknown key and names the
nearest valid one, and the helpers that find a model's keys and sections.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.fields import FieldInfo


def _nearest(name: str, valid: Iterable[str], cutoff: float = 0.6) -> str:
    """`` (did you mean X?)`` for the closest valid name, or ``""`` when none is close."""
    match = difflib.get_close_matches(name, list(valid), n=1, cutoff=cutoff)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _keys(model: type[BaseModel]) -> dict[str, str]:
    """Every key a model accepts -> its field name (field names and their validation aliases)."""
    out: dict[str, str] = {}
    for name, field in model.model_fields.items():
        out[name] = name
        if isinstance(field.validation_alias, str):
            out[field.validation_alias] = name
    return out


def _section_of(field: FieldInfo) -> type[BaseModel] | None:
    """The section model a field holds, or None for a plain value (a path, a dict of cameras, ...)."""
    t = field.annotation
    return t if isinstance(t, type) and issubclass(t, BaseModel) else None


def _refuse_unknown_keys(model: type[BaseModel], data: Any, *, top_level: bool = False) -> Any:
    """``data`` unchanged if it has only keys ``model`` knows; else a ValueError naming the first unknown
    key and the nearest valid one (pydantic's own "extra inputs" error names no alternative).
    ``top_level``: ``model`` is the whole :class:`~openlfr.config.Settings`, whose keys are sections."""
    if isinstance(data, Mapping):
        valid = _keys(model)
        for key, value in data.items():
            if key not in valid:
                what = "section" if top_level and isinstance(value, Mapping) else "setting"
                raise ValueError(f"unknown {what} {key!r}{_nearest(str(key), valid)}")
    return data


class _Section(BaseModel):
    """A settings section (a TOML table): unknown keys are refused, naming the nearest valid one."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, data: Any) -> Any:
        return _refuse_unknown_keys(cls, data)
