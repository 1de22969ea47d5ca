"""Settings for seeing faces: the detection and embedding models, and the quality bar a face must meet."""

from __future__ import annotations

from pydantic import Field

from openlfr.config.strict import _Section


class VisionSettings(_Section):
    """Detection and embedding."""

    pack: str = Field("opencv-zoo", description="Model pack used unless a deployment names another.")
    threads: int = Field(2, ge=1, le=64, description="Inference threads (ONNX Runtime / OpenCV / dlib).")
    detection_score: float = Field(0.6, ge=0.05, le=0.99, description="Minimum detector confidence.")
    nms_iou: float = Field(
        0.3,
        ge=0.05,
        le=0.95,
        description="Overlap (IoU) above which two detections are one face (non-maximum suppression).",
    )
    working_width: int = Field(
        640,
        ge=160,
        le=4096,
        description="Frames wider than this are detected at this width, then mapped back.",
    )
    shared_working_width: int = Field(
        640,
        ge=160,
        le=4096,
        description="With two or more sources on the machine (in one process, or `live.sources_on_machine`), "
        "each is detected at most this wide: lower it when a box runs more cameras than its cores hold. Since "
        "the motion gate and detection on every second frame, four 1080p25 cameras in step fit two cores at "
        "640 px, the width one camera uses, and find as many wanted people as one camera does; at 512 px "
        "(the default until issue 29) a face must be about 40 px wide at 1080p to be found, against 32 px "
        "(benchmarks/cameras.py, benchmarks/live_ablation.py).",
    )
    min_detect_px: int = Field(
        16, ge=8, description="Faces narrower than this (full-resolution pixels) are not reported."
    )
    flip_augment: bool = Field(
        True, description="Embed the aligned face and its mirror image and average them (more accurate)."
    )
    max_image_pixels: int = Field(
        60_000_000, ge=1_000_000, description="Larger images are refused (decompression-bomb guard)."
    )
    max_image_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="Larger image files are refused before they are decoded."
    )


class QualitySettings(_Section):
    """The quality bar: a face below any of these is reported with the reason, and not enrolled."""

    min_face_px: float = Field(32.0, description="Shorter side of the face box, in full-resolution pixels.")
    min_inter_eye_px: float = Field(
        16.0, description="Distance between the eye landmarks, in full-resolution pixels."
    )
    max_yaw_deg: float = Field(
        40.0, description="Largest head turn left or right, estimated from the landmarks."
    )
    max_pitch_deg: float = Field(
        35.0, description="Largest head tilt up or down, estimated from the landmarks."
    )
    max_roll_deg: float = Field(
        35.0, description="Largest in-plane tilt of the head, from the eye landmarks."
    )
    min_sharpness: float = Field(40.0, description="Variance of the Laplacian of the aligned 112x112 face.")
    min_brightness: float = Field(40.0, description="Mean grey level of the aligned face, 0-255.")
    max_brightness: float = Field(
        220.0, description="Mean grey level of the aligned face above which it is overexposed."
    )
    enrol_min_score: float = Field(0.5, ge=0.0, le=1.0, description="Quality score needed to enrol.")
