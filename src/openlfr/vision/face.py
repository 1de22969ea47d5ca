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


def iou_matrix(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Pairwise IoU of boxes ``(x1, y1, x2, y2)``: ``len(a) x len(b)``."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)).astype(np.float32)
