"""What the live pipeline knows of each track, in memory only, and what a frame's stages hand the policy.

- :class:`TrackEvidence`: a track's best shot, embedded shots and per-subject scores, held by the alert
  policy (:mod:`openlfr.live.policy`) and dropped when the track ends (rule 3);
- :class:`FrameEvidence`: that evidence for a frame's tracks, taken from the policy once
  (:meth:`~openlfr.live.policy.AlertPolicy.known`) and read by the stages (:mod:`openlfr.live.stages`);
- :class:`Assessed`, :class:`Searched`, :class:`FrameResults`: what the stages found, which the policy
  takes once (:meth:`~openlfr.live.policy.AlertPolicy.take`) and writes into the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from openlfr.live.tracker import Track
from openlfr.matching.watchlist_index import Candidate

Aggregation = Literal["fused", "weighted_top", "max"]


@dataclass
class SubjectEvidence:
    """One watchlist subject's scores over a track's searches."""

    shots: list[tuple[float, float]] = field(default_factory=list)
    """(weight, score) of the heaviest searches so far, heaviest first (``weighted_top``)."""
    hits: int = 0
    """Searches in which this subject scored at or above the threshold."""
    score: float = -1.0
    """The aggregated score."""
    best_template: int = 0
    """The reference template of the best score (shown beside the probe)."""


@dataclass
class TrackEvidence:
    """What the searches of one track showed, and what was searched when (in memory only)."""

    searches: int = 0
    shots: list[tuple[float, npt.NDArray[np.float32]]] = field(default_factory=list, repr=False)
    """(weight, embedding) of the heaviest shots, heaviest first (``fused``)."""
    subjects: dict[str, SubjectEvidence] = field(default_factory=dict)
    alerted: set[str] = field(default_factory=set)
    best_quality: float = -1.0
    best_crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    """The best shot: the face with a margin, at full resolution (shown with an alert)."""
    best_frame_crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    """The scene around the best shot."""
    assessed_size: float = 0.0
    """Face size when quality was last measured."""
    embedded_quality: float = -1.0
    """Best quality of a shot that was embedded (-1: never searched)."""
    embedded_size: float = 0.0
    """Largest face size that was embedded."""
    last_search_frame: int = -1

    @property
    def holds_biometrics(self) -> bool:
        return bool(
            self.shots or self.subjects or self.best_crop is not None or self.best_frame_crop is not None
        )

    def fused(self) -> npt.NDArray[np.float32] | None:
        """The weighted mean of the kept shots' (unit) embeddings, or None before any shot."""
        return fuse(self.shots)


Shot = tuple[float, npt.NDArray[np.float32]]
"""(weight, embedding) of one embedded face of a track."""


def keep_heaviest(shots: list[Shot], shot: Shot, keep: int) -> list[Shot]:
    """``shots`` with ``shot`` added, heaviest first (ties in the order added), the ``keep`` heaviest only."""
    out = [*shots, shot]
    out.sort(key=lambda s: -s[0])
    return out[:keep]


def fuse(shots: Sequence[Shot]) -> npt.NDArray[np.float32] | None:
    """The weighted mean of the shots' (unit) embeddings, or None without shots (``fused`` aggregation)."""
    if not shots:
        return None
    w = np.array([s[0] for s in shots], np.float32)
    e = np.stack([s[1] / max(float(np.linalg.norm(s[1])), 1e-12) for s in shots])
    return ((w[:, None] * e).sum(axis=0) / max(float(w.sum()), 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class Assessed:
    """A track whose face quality a frame measured."""

    track: Track
    size: float
    """The face's size when measured."""
    quality: float = -1.0
    """Its quality score, when it passed the quality bar and beat the track's best shot so far (else -1)."""
    crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    """The new best shot: the face with a margin, at full resolution (``None``: no better shot)."""
    frame_crop: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    """The scene around the new best shot."""


NO_EVIDENCE = TrackEvidence()
"""What the stages read for a track the policy holds nothing of yet (never written)."""


@dataclass(frozen=True)
class FrameEvidence:
    """The policy's evidence of one frame's tracks as its stages read it, taken once before them."""

    evidence: Mapping[int, TrackEvidence]
    """Per track id; a track missing here has none yet (read :data:`NO_EVIDENCE`)."""
    pending: frozenset[int]
    """Ids of the tracks with a match at or above threshold awaiting confirmation (a search from an alert)."""
    threshold: float
    aggregation: Aggregation
    keep: int
    """Shots kept per track (``fused``)."""


@dataclass(frozen=True)
class Searched:
    """A track whose face a frame embedded and searched."""

    track: Track
    size: float
    """The embedded face's size."""
    quality: float
    """The embedded face's quality score (0 when unmeasured)."""
    weight: float
    """The shot's weight in the aggregation: face size x quality score."""
    embedding: npt.NDArray[np.float32] = field(repr=False)
    top: Sequence[Candidate]
    """The search's best candidates (with their templates)."""
    subject_scores: npt.NDArray[np.float32] = field(repr=False)
    """The probe's score for every subject (columns in the index's subject order)."""
    shots: list[Shot] = field(default_factory=list, repr=False)
    """``fused`` aggregation: the track's kept shots with this one (what the probe fused)."""


@dataclass(frozen=True)
class FrameResults:
    """What one frame found, handed to :meth:`AlertPolicy.take` once."""

    index: int
    """The frame's index (when each track was last searched)."""
    at_s: float
    """The frame's wall time, epoch seconds (the cooldown's clock)."""
    tracks: Sequence[Track]
    """Every track seen in the frame."""
    assessed: Sequence[Assessed] = ()
    searched: Sequence[Searched] = ()
    positions: Mapping[str, int] = field(default_factory=dict)
    """Column of each subject in ``Searched.subject_scores``."""
