"""Where a frame needs detecting: the parts of the picture that changed since the last frame detected, and
around the faces being tracked (``live.motion_gate``).

Detection is most of a frame's cost, and most of a fixed camera's picture is a background that does not
move. Frigate gates its object detector the same way: motion is found on a small grey copy of the frame,
and the detector runs only on regions around it. Here a region is detected at the same scale as the whole
working frame would be, so a face in it is found as it would be in the whole frame; only the picture
around it is left out.

Nothing is lost for long: the whole frame is detected every ``live.full_detect_every_s`` (a person standing
still, never tracked, is found then) and whenever the regions would cover more than
``live.motion_full_share`` of it (a camera that pans, a change of light). Only a grey copy of the last
detected frame, 1/64 of its pixels, is kept between frames, and only until the next one: no face can be
recognised in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.config import LiveSettings

CELL_PX = 8
"""Working-frame pixels a side of one motion cell: an 8x8 average is steady under sensor and coding noise."""

PAD_CELLS = 3
"""Cells added around motion and tracked faces, so a region holds a whole face with the context the detector
needs (24 working-frame pixels, about 70 at 1080p)."""

Region = tuple[int, int, int, int]
"""``(x1, y1, x2, y2)`` in working-frame pixels."""


def _merge(boxes: list[list[int]]) -> list[list[int]]:
    """Overlapping rectangles merged until none overlap (a face is never split between two regions)."""
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[:] = [min(b[0], o[0]), min(b[1], o[1]), max(b[2], o[2]), max(b[3], o[3])]
                    merged = True
                    break
            else:
                out.append(list(b))
        boxes = out
    return boxes


class MotionGate:
    """One camera's record of its last detected frame (grey, one value per motion cell), and from it the
    regions of the next frame to detect."""

    def __init__(self, live: LiveSettings) -> None:
        self.threshold = live.motion_threshold
        self.full_every_s = live.full_detect_every_s
        self.full_share = live.motion_full_share
        self._prev: npt.NDArray[np.uint8] | None = None
        self._last_full: float | None = None
        self.full_frames = 0
        """Frames given to the detector whole."""
        self.region_frames = 0
        """Frames detected in regions only (none, when nothing moved and nothing is tracked)."""

    def regions(
        self, work: npt.NDArray[np.uint8], media_s: float, tracked: Sequence[npt.NDArray[np.float32]]
    ) -> list[Region] | None:
        """The regions of the working frame ``work`` (seen at ``media_s``) to detect, or ``None`` for the whole
        frame. ``tracked``: the boxes where the live tracks' faces are expected, in working-frame pixels."""
        h, w = work.shape[:2]
        cells = (max(1, w // CELL_PX), max(1, h // CELL_PX))
        # Averaging into cells first: the grey conversion then costs 1/64 of what it would.
        grey = np.asarray(
            cv2.cvtColor(cv2.resize(work, cells, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY), np.uint8
        )
        prev, self._prev = self._prev, grey
        due = self._last_full is None or not 0 <= media_s - self._last_full < self.full_every_s
        if prev is None or prev.shape != grey.shape or due:
            self._whole(media_s)
            return None
        mask = (cv2.absdiff(grey, prev) > self.threshold).astype(np.uint8)
        gh, gw = mask.shape
        for box in tracked:
            # The face and one face width around it: where it will be even if it moved more than predicted.
            bw, bh = box[2] - box[0], box[3] - box[1]
            x1, y1 = int(max(0, (box[0] - bw) // CELL_PX)), int(max(0, (box[1] - bh) // CELL_PX))
            x2, y2 = int(min(gw, (box[2] + bw) // CELL_PX + 1)), int(min(gh, (box[3] + bh) // CELL_PX + 1))
            mask[y1:y2, x1:x2] = 1
        boxes: list[list[int]] = []
        if mask.any():
            mask = np.asarray(cv2.dilate(mask, np.ones((2 * PAD_CELLS + 1,) * 2, np.uint8)), np.uint8)
            _n, _labels, stats, _centres = cv2.connectedComponentsWithStats(mask, connectivity=8)
            boxes = _merge([[int(x), int(y), int(x + bw), int(y + bh)] for x, y, bw, bh, _a in stats[1:]])
            if sum((b[2] - b[0]) * (b[3] - b[1]) for b in boxes) > self.full_share * gw * gh:
                self._whole(media_s)
                return None
        self.region_frames += 1
        # The last cells reach the frame's edge (a width not a multiple of a cell leaves a few pixels over).
        return [
            (
                b[0] * CELL_PX,
                b[1] * CELL_PX,
                w if b[2] >= gw else b[2] * CELL_PX,
                h if b[3] >= gh else b[3] * CELL_PX,
            )
            for b in boxes
        ]

    def _whole(self, media_s: float) -> None:
        """Note a whole frame detected at ``media_s``."""
        self._last_full = media_s
        self.full_frames += 1
