"""A second opinion from another, independently trained embedder (issue 12 item 3).

Two-stage matching: a candidate that passes a lower first-stage threshold on the deployment's pack is
confirmed only when a second embedder (dlib's ResNet: its weights are CC0, so it is licensed for
operational use) also scores the probe against the candidate's reference at or above its own threshold.
The second embedder runs only on candidates, on the face box the first stage found (no second detection),
so its cost is per candidate, not per face.

Measured on the shared data (``benchmarks/second_opinion.py``), confirming opencv-zoo candidates with dlib
*raises* FNIR at a fixed FPIR, so it is off by default and not wired into the live pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openlfr.vision import Face, FaceEngine
from openlfr.vision.image_io import BGRImage


@dataclass(frozen=True)
class SecondOpinion:
    """The second embedder and the score its confirmation needs."""

    engine: FaceEngine
    threshold: float

    def template(self, image: BGRImage, face: Face) -> np.ndarray:
        """The second embedder's template of a face found by the first stage (its box, no new detection)."""
        (out,) = self.engine.embed(image, [face])
        assert out.embedding is not None
        return out.embedding

    def score(self, probe: np.ndarray, reference: np.ndarray) -> float:
        p, r = np.asarray(probe, np.float32), np.asarray(reference, np.float32)
        return float(p @ r / max(float(np.linalg.norm(p) * np.linalg.norm(r)), 1e-12))

    def confirms(self, probe: np.ndarray, reference: np.ndarray) -> bool:
        return self.score(probe, reference) >= self.threshold
