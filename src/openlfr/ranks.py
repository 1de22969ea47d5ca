"""UK police ranks: the closed, ordered list a user's rank is chosen from (issue 25 item 1).

An admin records each user's rank (``openlfr user rank``); opening a deployment needs at least
``governance.min_authorising_rank`` (default Superintendent, the rank the College of Policing's LFR guidance
names for authorising a deployment). The Metropolitan and City of London forces name their chief officer
ranks differently; each such rank sits at the same level as its counterpart in the other forces, so the
minimum compares levels, never names.

Not in any layer: it imports nothing of openlfr, so the settings, the store and every layer may use it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rank:
    key: str
    label: str
    level: int
    """Higher is more senior; equivalent ranks of different forces share a level."""


RANKS: tuple[Rank, ...] = (
    Rank("constable", "Constable", 1),
    Rank("sergeant", "Sergeant", 2),
    Rank("inspector", "Inspector", 3),
    Rank("chief_inspector", "Chief Inspector", 4),
    Rank("superintendent", "Superintendent", 5),
    Rank("chief_superintendent", "Chief Superintendent", 6),
    Rank("assistant_chief_constable", "Assistant Chief Constable", 7),
    Rank("commander", "Commander", 7),
    Rank("deputy_chief_constable", "Deputy Chief Constable", 8),
    Rank("deputy_assistant_commissioner", "Deputy Assistant Commissioner", 8),
    Rank("chief_constable", "Chief Constable", 9),
    Rank("assistant_commissioner", "Assistant Commissioner", 9),
    Rank("deputy_commissioner", "Deputy Commissioner", 10),
    Rank("commissioner", "Commissioner", 11),
)
BY_KEY: dict[str, Rank] = {r.key: r for r in RANKS}


class UnknownRank(ValueError):
    """Not one of :data:`RANKS` (the message lists them)."""


def parse_rank(value: str) -> Rank:
    """A rank from its key or its words, case-insensitive ("chief inspector", "Chief-Inspector")."""
    key = " ".join(value.strip().lower().replace("-", " ").replace("_", " ").split()).replace(" ", "_")
    rank = BY_KEY.get(key)
    if rank is None:
        raise UnknownRank(
            f"unknown rank {value!r}; ranks, most junior first: {', '.join(r.label for r in RANKS)}"
        )
    return rank


def rank_label(key: str | None) -> str | None:
    """The rank's words for a stored key (None for no rank; an unknown key is shown as stored)."""
    if key is None:
        return None
    rank = BY_KEY.get(key)
    return rank.label if rank else key
