"""One parser for the closed category lists (watchlist categories, deployment purpose categories)."""

from __future__ import annotations

from collections.abc import Mapping

from openlfr.governance.errors import GovernanceError


def parse_choice(value: str, choices: Mapping[str, str], what: str) -> str:
    """The key of ``choices`` (key -> words) that ``value`` names by key or by words, case-insensitive and
    with ``-``/``_`` read as spaces; :class:`GovernanceError` listing the allowed ones otherwise."""
    v = " ".join(value.strip().lower().replace("-", " ").split())
    for key, label in choices.items():
        if v and v in (key, key.replace("_", " "), label.lower()):
            return key
    allowed = "; ".join(f"{k} ({label})" for k, label in choices.items())
    raise GovernanceError(f"unknown {what} {value!r}: the categories are {allowed}")
