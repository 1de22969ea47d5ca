"""Face tracker: IoU with constant-velocity motion, Hungarian assignment, track ids per camera.

A track holds tracking state only (its latest face, times, motion). What its searches showed (best shot,
embeddings, scores) is kept by the alert policy (:mod:`openlfr.live.policy`), which drops it when the
caller hands it :meth:`FaceTracker.update`'s ``ended`` list: nothing of a track outlives it unless it
alerted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from openlfr.vision import Face, iou_matrix

__all__ = ["FaceTracker", "Track", "iou_matrix"]


@dataclass
class Track:
    """One person's face followed across frames of one camera (in memory only)."""

    id: int
    face: Face
    first_seen_s: float
    last_seen_s: float
    velocity: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(4, np.float32))
    frames: int = 1
    seen_this_frame: bool = True
    counted: bool = False
    """Whether the track is in the worker's ``tracks`` counter (the published faces seen): counted when it
    ends, or earlier, before its first alert is stored."""

    def predicted_box(self, t: float) -> npt.NDArray[np.float32]:
        dt = max(0.0, t - self.last_seen_s)
        return (self.face.box + self.velocity * dt).astype(np.float32)


class FaceTracker:
    """Associates each frame's faces with tracks by IoU of motion-predicted boxes."""

    def __init__(self, iou_threshold: float = 0.3, max_age_s: float = 1.0) -> None:
        # Imported by the tracker, not at the top: scipy costs start-up time in every process that imports
        # openlfr.live (each CLI command), and a tracker is built before its first frame, never during one.
        from scipy.optimize import linear_sum_assignment

        self._assign = linear_sum_assignment
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.tracks: dict[int, Track] = {}
        self._next_id = 1
        self.tracks_started = 0

    def update(self, faces: list[Face], t: float) -> tuple[list[Track], list[Track]]:
        """Assign ``faces`` seen at media time ``t``; returns ``(tracks seen in this frame, ended tracks)``.

        The returned current list is in the order of ``faces``.
        """
        # Tracks unseen for too long end first, so a new face where an old one was starts a new track.
        ended = [tr for tr in self.tracks.values() if t - tr.last_seen_s > self.max_age_s]
        for tr in ended:
            del self.tracks[tr.id]
        live = list(self.tracks.values())
        for tr in live:
            tr.seen_this_frame = False
        assigned: dict[int, Track] = {}
        if live and faces:
            pred = np.stack([tr.predicted_box(t) for tr in live])
            det = np.stack([f.box for f in faces]).astype(np.float32)
            iou = iou_matrix(pred, det)
            # Motion gate for fast faces whose boxes no longer overlap: centre distance within half a
            # face width and similar size still counts as a (weak) match.
            pc = (pred[:, None, :2] + pred[:, None, 2:]) / 2
            dc = (det[None, :, :2] + det[None, :, 2:]) / 2
            dist = np.linalg.norm(pc - dc, axis=2)
            pw = (pred[:, 2] - pred[:, 0])[:, None]
            dw = (det[:, 2] - det[:, 0])[None, :]
            ratio = np.minimum(pw, dw) / np.maximum(np.maximum(pw, dw), 1e-6)
            near = (dist < 0.5 * np.maximum(pw, dw)) & (ratio > 0.6)
            score = np.where(iou >= self.iou_threshold, iou, np.where(near, self.iou_threshold * 0.5, 0.0))
            rows, cols = self._assign(-score)
            for r, c in zip(rows, cols, strict=True):
                if score[r, c] > 0:
                    assigned[int(c)] = live[int(r)]
        current: list[Track] = []
        for j, face in enumerate(faces):
            found = assigned.get(j)
            if found is None:
                tr = Track(id=self._next_id, face=face, first_seen_s=t, last_seen_s=t)
                self._next_id += 1
                self.tracks_started += 1
                self.tracks[tr.id] = tr
            else:
                tr = found
                dt = t - tr.last_seen_s
                if dt > 0:
                    v = (face.box - tr.face.box) / dt
                    tr.velocity = (0.5 * tr.velocity + 0.5 * v).astype(np.float32)
                tr.face = face
                tr.last_seen_s = t
                tr.frames += 1
            tr.seen_this_frame = True
            current.append(tr)
        return current, ended

    def end_all(self) -> list[Track]:
        """End every track (the source stopped)."""
        ended = list(self.tracks.values())
        self.tracks.clear()
        return ended
