"""Alert policy: when a track's evidence becomes an alert. The evidence lives here, not on the track.

Each track that has been assessed or searched has a :class:`TrackEvidence`, held in memory by the policy
and dropped (crops, embeddings and scores) when the tracker ends the track (:meth:`AlertPolicy.end`, rule 3).
The pipeline's stages only read it, for a frame's tracks at once (:meth:`AlertPolicy.known`); what a frame
found (:class:`~openlfr.live.evidence.FrameResults`: its best shots and its searches) is written into it in
one place, :meth:`AlertPolicy.take`, which then returns the frame's decisions. The evidence's types are in
:mod:`openlfr.live.evidence`.

How a track's searches are aggregated into one score per subject (``[live] aggregation``; chosen by the
ablation in ``benchmarks/live_ablation.py``):

- ``fused``: the ``evidence_shots`` heaviest shots' embeddings (weight = face size x quality score) are
  averaged into one template, and that template is searched; frame noise averages out, so a person's
  score rises while a stranger's does not.
- ``weighted_top``: the weighted mean of the scores of the ``evidence_shots`` heaviest searches.
- ``max``: the best single search.

In every mode a subject needs ``min_hits`` searches of the track before it alerts (the fused score, or
that many single searches at or above the threshold), and an aggregated score at or above the threshold.
Within one frame a face alerts for at most one subject and a subject for at most one face (the pairs are
taken best score first). One alert per subject per camera per ``cooldown_s``; a track alerts for a subject
at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from openlfr.live.evidence import (
    Aggregation,
    Assessed,
    FrameEvidence,
    FrameResults,
    Searched,
    SubjectEvidence,
    TrackEvidence,
    keep_heaviest,
)
from openlfr.live.tracker import Track
from openlfr.matching.watchlist_index import Candidate

__all__ = [
    "Aggregation",
    "AlertDecision",
    "AlertPolicy",
    "Assessed",
    "FrameEvidence",
    "FrameResults",
    "Searched",
    "SubjectEvidence",
    "TrackEvidence",
]


@dataclass(frozen=True)
class AlertDecision:
    track: Track
    evidence: TrackEvidence
    subject_id: str
    score: float
    """The track's aggregated score for the subject."""
    template_index: int


class AlertPolicy:
    """Per-camera alert policy: the evidence of each live track and the cooldown clock per subject."""

    def __init__(
        self,
        threshold: float,
        min_hits: int,
        cooldown_s: float,
        *,
        aggregation: Aggregation = "weighted_top",
        keep: int = 3,
    ) -> None:
        self.threshold = threshold
        self.min_hits = min_hits
        self.cooldown_s = cooldown_s
        self.aggregation = aggregation
        self.keep = keep
        self._last_alert: dict[str, float] = {}
        self._tracks: dict[int, TrackEvidence] = {}
        self.suppressed = 0

    # -- evidence per track --------------------------------------------------------------------------
    def known(self, tracks: Sequence[Track]) -> FrameEvidence:
        """The evidence of a frame's tracks, for its stages to read (they never write it)."""
        return FrameEvidence(
            {tr.id: self._tracks[tr.id] for tr in tracks if tr.id in self._tracks},
            frozenset(tr.id for tr in tracks if self.pending(tr)),
            self.threshold,
            self.aggregation,
            self.keep,
        )

    def evidence(self, track: Track) -> TrackEvidence:
        """The track's evidence (created empty on first use), for writing."""
        ev = self._tracks.get(track.id)
        if ev is None:
            ev = self._tracks[track.id] = TrackEvidence()
        return ev

    def held_track_ids(self) -> set[int]:
        """Ids of the tracks the policy holds evidence for."""
        return set(self._tracks)

    def end(self, tracks: Iterable[Track]) -> None:
        """The tracks ended: drop their crops, embeddings and scores (rule 3)."""
        for tr in tracks:
            ev = self._tracks.pop(tr.id, None)
            if ev is not None:
                ev.shots.clear()
                ev.subjects.clear()
                ev.best_crop = ev.best_frame_crop = None

    def add_shot(self, track: Track, embedding: npt.NDArray[np.float32], weight: float) -> None:
        """Keep one embedded shot of the track (``fused`` aggregation), heaviest ``keep`` only."""
        ev = self.evidence(track)
        ev.shots[:] = keep_heaviest(ev.shots, (weight, embedding), self.keep)

    def add_search(
        self,
        track: Track,
        top: Sequence[Candidate],
        subject_scores: npt.NDArray[np.float32],
        positions: Mapping[str, int],
        weight: float,
    ) -> None:
        """Fold one search into the track's evidence.

        ``top`` are the search's best candidates (with their templates); ``subject_scores`` is the probe's
        score for every subject (columns in ``positions`` order), used to keep the subjects already in the
        track's evidence up to date. In ``fused`` mode the probe is the track's fused template, so each
        search replaces the scores. A track so holds a handful of numbers whatever the watchlist's size.
        """
        ev = self.evidence(track)
        ev.searches += 1
        scored: dict[str, tuple[float, int | None]] = {c.subject_id: (c.score, c.template_index) for c in top}
        for subject in ev.subjects:
            if subject not in scored and subject in positions:
                scored[subject] = (float(subject_scores[positions[subject]]), None)
        for subject, (s, template) in scored.items():
            se = ev.subjects.get(subject)
            if se is None:
                se = ev.subjects[subject] = SubjectEvidence()
            if s >= self.threshold:
                se.hits += 1
            better = s > se.score
            if self.aggregation == "fused":
                se.score = s
            elif self.aggregation == "max":
                se.score = max(se.score, s)
            else:
                se.shots.append((weight, s))
                se.shots.sort(key=lambda ws: -ws[0])
                del se.shots[self.keep :]
                total = sum(w for w, _ in se.shots)
                se.score = sum(w * x for w, x in se.shots) / total if total > 0 else -1.0
            if template is not None and (better or self.aggregation == "fused"):
                se.best_template = template

    def _confirmed(self, ev: TrackEvidence, se: SubjectEvidence) -> bool:
        if self.aggregation == "fused":
            return ev.searches >= self.min_hits
        return se.hits >= self.min_hits

    def pending(self, track: Track) -> bool:
        """The track has a subject at or above threshold that is not yet confirmed (worth searching again)."""
        ev = self._tracks.get(track.id)
        if ev is None:
            return False
        return any(
            s not in ev.alerted
            and (se.hits > 0 or se.score >= self.threshold)
            and not self._confirmed(ev, se)
            for s, se in ev.subjects.items()
        )

    def take(self, frame: FrameResults) -> list[AlertDecision]:
        """Fold what a frame found into its tracks' evidence, then return the alerts to raise now.

        The one place a track's evidence is written: the new best shots of the assessed tracks, then, for
        each searched track, its embedded shot (``fused``) and its search. Decisions are taken only in a
        frame that searched: evidence changes no score otherwise.
        """
        for a in frame.assessed:
            ev = self.evidence(a.track)
            ev.assessed_size = a.size
            if a.crop is not None:
                ev.best_quality, ev.best_crop, ev.best_frame_crop = a.quality, a.crop, a.frame_crop
        for r in frame.searched:
            ev = self.evidence(r.track)
            ev.embedded_quality = max(ev.embedded_quality, r.quality)
            ev.embedded_size = max(ev.embedded_size, r.size)
            ev.last_search_frame = frame.index
            if self.aggregation == "fused":
                ev.shots[:] = r.shots  # the kept shots its search fused (as add_shot keeps them)
        for r in frame.searched:
            self.add_search(r.track, r.top, r.subject_scores, frame.positions, r.weight)
        return self.decide(frame.tracks, frame.at_s) if frame.searched else []

    def decide(self, tracks: Sequence[Track], at_s: float) -> list[AlertDecision]:
        """The alerts to raise now, for the tracks seen in the frame at wall time ``at_s`` (epoch seconds)."""
        pairs: list[AlertDecision] = []
        for tr in tracks:
            ev = self._tracks.get(tr.id)
            if ev is None:
                continue
            for subject, se in ev.subjects.items():
                if subject in ev.alerted or se.score < self.threshold or not self._confirmed(ev, se):
                    continue
                pairs.append(AlertDecision(tr, ev, subject, se.score, se.best_template))
        pairs.sort(key=lambda d: -d.score)
        used_tracks: set[int] = set()
        used_subjects: set[str] = set()
        out: list[AlertDecision] = []
        for d in pairs:
            if d.track.id in used_tracks or d.subject_id in used_subjects:
                continue
            used_tracks.add(d.track.id)
            used_subjects.add(d.subject_id)
            d.evidence.alerted.add(d.subject_id)
            last = self._last_alert.get(d.subject_id)
            if last is not None and at_s - last < self.cooldown_s:
                self.suppressed += 1
                continue
            self._last_alert[d.subject_id] = at_s
            out.append(d)
        return out
