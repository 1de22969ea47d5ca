"""The one face type that flows through the code: detector output, quality, then embedding."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Quality:
    """How usable a face is, measured on the face itself, with the reasons when it is not."""

    score: float
    """0..1: 1 means every measure is comfortably inside the bar."""
    face_px: float
    """Shorter side of the face box, in full-resolution pixels."""
    inter_eye_px: float
    sharpness: float
    """Variance of the Laplacian of the aligned 112x112 grey face."""
    brightness: float
    """Mean grey level of the aligned face, 0..255."""
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    reasons: tuple[str, ...] = ()
    """Why the face is below the quality bar; empty when it passes."""

    @property
    def acceptable(self) -> bool:
        return not self.reasons

    def as_dict(self) -> dict[str, object]:
        return {
            "score": round(self.score, 3),
            "face_px": round(self.face_px, 1),
            "inter_eye_px": round(self.inter_eye_px, 1),
            "sharpness": round(self.sharpness, 1),
            "brightness": round(self.brightness, 1),
            "yaw_deg": round(self.yaw_deg, 1),
            "pitch_deg": round(self.pitch_deg, 1),
            "roll_deg": round(self.roll_deg, 1),
            "acceptable": self.acceptable,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Face:
    """One face in one image.

    ``box`` is ``(x1, y1, x2, y2)`` and ``landmarks`` is 5x2 in full-resolution pixel coordinates, in the
    ArcFace order: the eye on the image's left, the eye on the image's right, nose tip, the mouth corner
    on the image's left, the mouth corner on the image's right.
    """

    box: FloatArray
    landmarks: FloatArray
    detector_score: float
    quality: Quality | None = None
    embedding: FloatArray | None = field(default=None, repr=False)
    """L2-normalised; set once the face has been embedded."""

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def size(self) -> float:
        """Shorter side of the box."""
        return min(self.width, self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2

    def with_quality(self, quality: Quality) -> Face:
        return replace(self, quality=quality)

    def with_embedding(self, embedding: FloatArray) -> Face:
        return replace(self, embedding=embedding)

    def scaled(self, factor: float, offset: tuple[float, float] = (0.0, 0.0)) -> Face:
        """The same face in another image's coordinates: ``p * factor + offset``."""
        off = np.asarray(offset, dtype=np.float32)
        return replace(
            self,
            box=(self.box * factor + np.tile(off, 2)).astype(np.float32),
            landmarks=(self.landmarks * factor + off).astype(np.float32),
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly view (no embedding: templates are biometric data)."""
        return {
            "box": [round(float(v), 1) for v in self.box],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "detector_score": round(self.detector_score, 3),
            "quality": self.quality.as_dict() if self.quality else None,
        }


def cosine_similarity(a: FloatArray, b: FloatArray) -> float:
    """Cosine similarity of two embeddings (they are stored L2-normalised, so this is a dot product)."""
    na = float(np.linalg.norm(a))
    nb = float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def l2_normalise(x: npt.NDArray[np.floating]) -> FloatArray:
    """Rows scaled to unit length (a zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)
