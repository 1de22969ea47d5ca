"""The typed contract between the live pipeline and governance: what an alert and a counter update carry.

``openlfr.live`` builds these and hands them to its gateway (:class:`openlfr.live.gateway.LiveGateway`);
governance's :class:`~openlfr.governance.live_gateway.DeploymentGateway` stores them, and the dry run's
in-memory gateway keeps them in a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class NewAlert:
    """A track that passed the alert policy, as the pipeline hands it to governance."""

    camera_id: str
    track_id: str
    subject_id: str
    template_index: int
    """Row of the watchlist index whose reference image is shown beside the probe."""
    score: float
    threshold: float
    """The threshold in force (rule 2: recorded with the alert)."""
    observed_at: datetime
    probe_crop: bytes = field(repr=False)
    """JPEG of the best shot (face with a margin)."""
    frame_crop: bytes = field(repr=False)
    """JPEG of the scene around the best shot."""


@dataclass(frozen=True)
class Counts:
    """Increments of a camera's counters since the previous report: all that non-matches leave (rule 3)."""

    faces_seen: int = 0
    tracks: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0

    def __post_init__(self) -> None:
        for k, v in self.as_dict().items():
            if v < 0:
                raise ValueError(f"{k} cannot be negative ({v})")

    def as_dict(self) -> dict[str, int]:
        return {
            "faces_seen": self.faces_seen,
            "tracks": self.tracks,
            "frames_processed": self.frames_processed,
            "frames_dropped": self.frames_dropped,
        }

    def __bool__(self) -> bool:
        return any(self.as_dict().values())


class ScanWindow(Protocol):
    """What rule 1 reads of a deployment (:func:`openlfr.governance.deployments.check_can_scan`)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime: ...
    @property
    def cameras(self) -> Sequence[str]: ...
