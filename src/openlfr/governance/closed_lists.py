"""Closed lists for how a watchlist is put together (issue 15 §6): where a reference image comes from and
how serious the offence behind an entry is. Free text let anything through and could not be counted; these
keys are stored, their words are published as counts frozen when the watchlist is destroyed.
"""

from __future__ import annotations

from openlfr.governance.errors import GovernanceError

IMAGE_SOURCES: dict[str, str] = {
    "custody": "custody image taken on arrest",
    "investigation": "image obtained in a police investigation",
    "family_or_carer": "provided by family or a carer (missing or at-risk person)",
    "public_authority": "provided by another public authority",
    "sample_image": "public sample image (demonstration or test only, not a real watchlist)",
}

OFFENCE_SERIOUSNESS: dict[str, str] = {
    "indictable_only": "indictable-only offence (the most serious)",
    "either_way": "either-way offence",
    "summary": "summary offence",
    "no_offence": "no offence (missing or at-risk person)",
}

# Watchlist categories that concern no offence: their seriousness is "no_offence" unless stated.
NO_OFFENCE_CATEGORIES = ("missing_at_risk", "risk_of_harm")
NOT_STATED = "not stated"


def _parse(value: str, choices: dict[str, str], what: str) -> str:
    v = " ".join((value or "").strip().lower().replace("-", " ").split())
    for key, label in choices.items():
        if v and v in (key, key.replace("_", " "), label.lower()):
            return key
    allowed = "; ".join(f"{k} ({label})" for k, label in choices.items())
    raise GovernanceError(f"unknown {what} {value!r}: the {what}s are {allowed}")


def parse_image_source(value: str) -> str:
    """An image source key from its key or its words (case-insensitive); anything else is refused."""
    return _parse(value, IMAGE_SOURCES, "image source")


def parse_offence_seriousness(value: str | None, category: str) -> str:
    """An offence seriousness key; left empty, "no_offence" for a category that concerns no offence, and a
    refusal naming the field otherwise."""
    if not (value or "").strip():
        if category in NO_OFFENCE_CATEGORIES:
            return "no_offence"
        raise GovernanceError(
            "offence seriousness is required for this category: one of " + ", ".join(OFFENCE_SERIOUSNESS)
        )
    return _parse(value or "", OFFENCE_SERIOUSNESS, "offence seriousness")
