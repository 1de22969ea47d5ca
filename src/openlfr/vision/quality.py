"""Face quality: size, inter-eye distance, sharpness, brightness and pose from the five landmarks.

Each measure is compared with the bar in ``QualitySettings``; the reasons name every measure that fails.
The score (0..1) is the geometric mean of per-measure scores that reach 0.5 at the bar and 1.0 when
comfortably inside it, so tracks can pick their best shot by it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.config import QualitySettings
from openlfr.vision.alignment import align_face
from openlfr.vision.face import Face, FloatArray, Quality

# Depth of the nose tip in front of the eye plane, as a fraction of the inter-eye distance; used to turn
# the nose's offset from the face's midline into an angle.
_NOSE_DEPTH_IOD = 0.55
# Where the nose tip sits between the eye line and the mouth line on a frontal face (ArcFace template).
_NOSE_FRONTAL_T = 0.494


def pose_from_landmarks(lm: FloatArray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees, estimated from five ArcFace-order landmarks."""
    lm = np.asarray(lm, dtype=np.float64)
    left_eye, right_eye = lm[0], lm[1]
    dx, dy = right_eye - left_eye
    roll = math.degrees(math.atan2(dy, dx))
    c, s = math.cos(-math.radians(roll)), math.sin(-math.radians(roll))
    rot = np.array([[c, -s], [s, c]])
    p = (lm - lm[:2].mean(0)) @ rot.T
    eyes_mid = p[:2].mean(0)
    mouth_mid = p[3:].mean(0)
    iod = max(abs(p[1, 0] - p[0, 0]), 1e-6)
    em = max(mouth_mid[1] - eyes_mid[1], 1e-6)
    # Midline at the nose's height, interpolated between eye midpoint and mouth midpoint.
    t = (p[2, 1] - eyes_mid[1]) / em
    mid_x = eyes_mid[0] + t * (mouth_mid[0] - eyes_mid[0])
    yaw = math.degrees(math.atan2(p[2, 0] - mid_x, _NOSE_DEPTH_IOD * iod))
    # Nose depth relative to the eye-mouth distance (1.156 inter-eye distances on the template).
    pitch = math.degrees(math.atan((t - _NOSE_FRONTAL_T) / (_NOSE_DEPTH_IOD / 1.156)))
    return yaw, pitch, roll


def _rising(value: float, bar: float) -> float:
    """0.5 at the bar, 1.0 at twice the bar, falling towards 0 below it."""
    if bar <= 0:
        return 1.0
    return float(np.clip(value / (2 * bar), 0.0, 1.0))


def _falling(value: float, bar: float) -> float:
    """1.0 at zero, 0.5 at the bar, 0 at twice the bar."""
    if bar <= 0:
        return 1.0
    return float(np.clip(1.0 - abs(value) / (2 * bar), 0.0, 1.0))


def assess_quality(
    image: npt.NDArray[np.uint8], face: Face, bar: QualitySettings, chip: npt.NDArray[np.uint8] | None = None
) -> Quality:
    """Measure one face against the quality bar."""
    if chip is None:
        chip = align_face(image, face.landmarks)
    grey = cv2.cvtColor(chip, cv2.COLOR_BGR2GRAY) if chip.ndim == 3 else chip
    # The central region avoids background and border replication dominating the measures.
    centre = grey[16:104, 16:96]
    sharpness = float(cv2.Laplacian(centre, cv2.CV_64F).var())
    brightness = float(centre.mean())
    lm = face.landmarks
    inter_eye = float(np.linalg.norm(lm[1] - lm[0]))
    yaw, pitch, roll = pose_from_landmarks(lm)
    size = face.size

    reasons: list[str] = []
    if size < bar.min_face_px:
        reasons.append(f"face too small: {size:.0f} px < {bar.min_face_px:.0f} px")
    if inter_eye < bar.min_inter_eye_px:
        reasons.append(
            f"eyes too close together in the image: {inter_eye:.0f} px < {bar.min_inter_eye_px:.0f} px"
        )
    if sharpness < bar.min_sharpness:
        reasons.append(f"blurred: sharpness {sharpness:.0f} < {bar.min_sharpness:.0f}")
    if brightness < bar.min_brightness:
        reasons.append(f"too dark: brightness {brightness:.0f} < {bar.min_brightness:.0f}")
    if brightness > bar.max_brightness:
        reasons.append(f"too bright: brightness {brightness:.0f} > {bar.max_brightness:.0f}")
    if abs(yaw) > bar.max_yaw_deg:
        reasons.append(f"head turned: yaw {yaw:+.0f}° beyond ±{bar.max_yaw_deg:.0f}°")
    if abs(pitch) > bar.max_pitch_deg:
        reasons.append(f"head tilted up or down: pitch {pitch:+.0f}° beyond ±{bar.max_pitch_deg:.0f}°")
    if abs(roll) > bar.max_roll_deg:
        reasons.append(f"head tilted sideways: roll {roll:+.0f}° beyond ±{bar.max_roll_deg:.0f}°")

    mid_brightness = (bar.min_brightness + bar.max_brightness) / 2
    half_range = max((bar.max_brightness - bar.min_brightness) / 2, 1.0)
    parts = [
        _rising(size, bar.min_face_px),
        _rising(inter_eye, bar.min_inter_eye_px),
        _rising(sharpness, bar.min_sharpness),
        _falling(abs(brightness - mid_brightness), half_range),
        _falling(yaw, bar.max_yaw_deg),
        _falling(pitch, bar.max_pitch_deg),
        _falling(roll, bar.max_roll_deg),
    ]
    score = float(np.exp(np.mean(np.log(np.maximum(parts, 1e-3)))))
    return Quality(
        score=score,
        face_px=size,
        inter_eye_px=inter_eye,
        sharpness=sharpness,
        brightness=brightness,
        yaw_deg=yaw,
        pitch_deg=pitch,
        roll_deg=roll,
        reasons=tuple(reasons),
    )
