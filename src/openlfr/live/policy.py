"""Alert policy: when a track's evidence becomes an alert.

- Scores are aggregated over the track's searches, each weighted by face size times quality score, so
  one small, blurred frame neither makes nor breaks an alert.
- A subject needs ``min_hits`` searches at or above the threshold in the track, and an aggregated score at
  or above it, before the track alerts for it.
- Within one frame a face alerts for at most one subject and a subject for at most one face (the pairs
  are taken best score first).
- One alert per subject per camera per ``cooldown_s``; a track alerts for a subject at most once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openlfr.live.tracker import SubjectEvidence, Track
from openlfr.matching.watchlist_index import Candidate


@dataclass(frozen=True)
class AlertDecision:
    track: Track
    subject_id: str
    score: float
    """The track's aggregated score for the subject."""
    template_index: int


class AlertPolicy:
    """Per-camera alert policy state (the cooldown clock per subject)."""

    def __init__(self, threshold: float, min_hits: int, cooldown_s: float) -> None:
        self.threshold = threshold
        self.min_hits = min_hits
        self.cooldown_s = cooldown_s
        self._last_alert: dict[str, float] = {}
        self.suppressed = 0

    def add_search(
        self,
        track: Track,
        top: Sequence[Candidate],
        subject_scores: npt.NDArray[np.float32],
        positions: Mapping[str, int],
        weight: float,
    ) -> None:
        """Fold one search of the track's face into its evidence.

        ``top`` are the search's best candidates (with their templates); ``subject_scores`` is the probe's
        score for every subject (columns in ``positions`` order), used to keep the subjects already in the
        track's evidence up to date. A track so holds a handful of numbers whatever the watchlist's size.
        """
        track.searches += 1
        scored: dict[str, tuple[float, int | None]] = {c.subject_id: (c.score, c.template_index) for c in top}
        for subject in track.evidence:
            if subject not in scored and subject in positions:
                scored[subject] = (float(subject_scores[positions[subject]]), None)
        for subject, (s, template) in scored.items():
            ev = track.evidence.setdefault(subject, SubjectEvidence())
            ev.add(weight, s)
            if s >= self.threshold:
                ev.hits += 1
            if s > ev.best_score and template is not None:
                ev.best_score = s
                ev.best_template = template

    def pending(self, track: Track) -> bool:
        """The track has a subject above threshold that is not yet confirmed (worth searching again)."""
        return any(0 < ev.hits < self.min_hits and s not in track.alerted for s, ev in track.evidence.items())

    def decide(self, tracks: Sequence[Track], at_s: float) -> list[AlertDecision]:
        """The alerts to raise now, for the tracks seen in the frame at wall time ``at_s`` (epoch seconds)."""
        pairs: list[AlertDecision] = []
        for tr in tracks:
            for subject, ev in tr.evidence.items():
                if subject in tr.alerted or ev.hits < self.min_hits or ev.score < self.threshold:
                    continue
                pairs.append(AlertDecision(tr, subject, ev.score, ev.best_template))
        pairs.sort(key=lambda d: -d.score)
        used_tracks: set[int] = set()
        used_subjects: set[str] = set()
        out: list[AlertDecision] = []
        for d in pairs:
            if d.track.id in used_tracks or d.subject_id in used_subjects:
                continue
            used_tracks.add(d.track.id)
            used_subjects.add(d.subject_id)
            d.track.alerted.add(d.subject_id)
            last = self._last_alert.get(d.subject_id)
            if last is not None and at_s - last < self.cooldown_s:
                self.suppressed += 1
                continue
            self._last_alert[d.subject_id] = at_s
            out.append(d)
        return out
