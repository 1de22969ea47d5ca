"""Five-point alignment to the ArcFace 112x112 template (similarity transform, Umeyama's method)."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.vision.face import FloatArray

ARCFACE_TEMPLATE: FloatArray = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
CHIP_SIZE = 112


def similarity_transform(src: FloatArray, dst: FloatArray) -> npt.NDArray[np.float64]:
    """The 2x3 similarity (rotation, uniform scale, translation) that best maps ``src`` onto ``dst``
    in the least-squares sense (Umeyama 1991), as insightface's alignment computes it."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    n = src.shape[0]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    cov = d_c.T @ s_c / n
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(cov) < 0:
        d[1] = -1
    rot = u @ np.diag(d) @ vt
    var_s = (s_c**2).sum() / n
    scale = float((sig * d).sum() / var_s) if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = t
    return m


def align_face(
    image: npt.NDArray[np.uint8], landmarks: FloatArray, size: int = CHIP_SIZE
) -> npt.NDArray[np.uint8]:
    """The face warped onto the ArcFace template: a ``size`` x ``size`` BGR chip."""
    template = ARCFACE_TEMPLATE * (size / CHIP_SIZE)
    m = similarity_transform(landmarks, template)
    chip = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.asarray(chip, dtype=np.uint8)
