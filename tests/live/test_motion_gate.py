"""The motion gate (``live.motion_gate``): a detected frame is detected where the picture changed and around the
tracked faces only, the whole frame on schedule and when most of it changed, and a face in a region is found
where detecting the whole frame finds it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.config import LiveSettings, Settings
from openlfr.live.motion import MotionGate, Region
from openlfr.live.sources import Frame
from openlfr.live.stages import detect
from openlfr.vision import FaceEngine
from tests.conftest import require_data

W, H = 640, 360


def _scene(seed: int = 0) -> npt.NDArray[np.uint8]:
    """A textured, still background (a street's worth of edges), the same for every frame of one seed."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (H // 20, W // 20, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(small, (W, H), interpolation=cv2.INTER_NEAREST), np.uint8)


def _with_patch(base: npt.NDArray[np.uint8], x: int, y: int, size: int = 40) -> npt.NDArray[np.uint8]:
    out = base.copy()
    out[y : y + size, x : x + size] = (250, 250, 250)
    return out


def _covers(regions: list[Region], box: tuple[int, int, int, int]) -> bool:
    return any(r[0] <= box[0] and r[1] <= box[1] and r[2] >= box[2] and r[3] >= box[3] for r in regions)


def _area(regions: list[Region]) -> int:
    return sum((r[2] - r[0]) * (r[3] - r[1]) for r in regions)


def test_a_still_picture_is_not_detected_between_whole_frames_and_a_moving_patch_is() -> None:
    gate = MotionGate(LiveSettings())
    base = _scene()
    assert gate.regions(base, 0.0, []) is None, "the first frame is detected whole"
    assert gate.regions(base.copy(), 0.08, []) == [], "nothing moved, nothing tracked: nothing to detect"
    moved = _with_patch(base, 300, 150)
    regions = gate.regions(moved, 0.16, [])
    assert regions, "a patch that appeared must be detected"
    assert _covers(regions, (300, 150, 340, 190)), regions
    assert _area(regions) < 0.15 * W * H, f"only around the change, not the frame: {regions}"
    # It moves on: the region follows it (the gate compares against the last detected frame).
    regions = gate.regions(_with_patch(base, 380, 150), 0.24, [])
    assert regions and _covers(regions, (380, 150, 420, 190)), regions
    assert gate.full_frames == 1 and gate.region_frames == 3


def test_the_whole_frame_is_detected_on_schedule_and_when_most_of_it_changed() -> None:
    live = LiveSettings(full_detect_every_s=1.0)
    gate = MotionGate(live)
    base = _scene()
    assert gate.regions(base, 0.0, []) is None
    assert gate.regions(base, 0.5, []) == []
    assert gate.regions(base, 1.0, []) is None, (
        "a still face nobody tracks is found within full_detect_every_s"
    )
    assert gate.regions(base, 1.08, []) == []
    assert gate.regions(_scene(seed=1), 1.16, []) is None, (
        "a new picture (a pan, the lights) is detected whole"
    )
    assert gate.regions(base, 0.2, []) is None, "time going backwards (a source that restarted): whole"
    assert gate.regions(cv2.resize(base, (320, 180)), 0.28, []) is None, "a new frame size: whole"
    assert gate.full_frames == 5


def test_a_tracked_face_is_detected_even_when_it_stands_still() -> None:
    gate = MotionGate(LiveSettings())
    base = _scene()
    gate.regions(base, 0.0, [])
    tracked = np.array([200, 100, 240, 150], np.float32)
    regions = gate.regions(base, 0.08, [tracked])
    assert regions, "a tracked face must be looked for where it is expected"
    # The box and a face width around it, so a face that moved more than predicted is still inside.
    assert _covers(regions, (160, 50, 280, 200)), regions
    assert _area(regions) < 0.25 * W * H, regions


def test_the_gate_can_be_tuned_off_by_threshold() -> None:
    """A change smaller than ``motion_threshold`` (grey levels) is noise, larger is motion."""
    base = _scene()
    faint = base.astype(np.int16)
    faint[150:190, 300:340] += 6
    faint_img = np.clip(faint, 0, 255).astype(np.uint8)
    quiet, keen = (
        MotionGate(LiveSettings(motion_threshold=10.0)),
        MotionGate(LiveSettings(motion_threshold=3.0)),
    )
    for gate in (quiet, keen):
        gate.regions(base, 0.0, [])
    assert quiet.regions(faint_img, 0.08, []) == []
    assert keen.regions(faint_img, 0.08, [])


def test_a_face_in_a_region_is_found_where_the_whole_frame_finds_it(
    engine: FaceEngine, tmp_path: Path
) -> None:
    """A real face walks into a still 1080p scene: detected in the gate's regions it has the box (and score)
    it has when the whole frame is detected, and the rest of the frame is left out."""
    photo = cv2.imread(str(require_data("lfw", "images", "Abel_Pacheco", "Abel_Pacheco_0001.jpg")))
    assert photo is not None
    face = cv2.resize(photo[60:190, 60:190], (260, 260))
    scene = cv2.resize(_scene(), (1920, 1080), interpolation=cv2.INTER_NEAREST)
    vision = Settings().vision
    gate = MotionGate(LiveSettings())
    at = datetime(2030, 1, 1, tzinfo=UTC)

    def frame(i: int, x: int | None) -> Frame:
        img = scene.copy()
        if x is not None:
            img[500:760, x : x + 260] = face
        f = Frame(img, i, i * 0.08, at)
        f.prepare(vision.working_width)
        return f

    empty = frame(0, None)
    assert empty.work is not None
    assert gate.regions(empty.work, empty.media_s, []) is None
    walked_in = frame(1, 900)
    assert walked_in.work is not None
    regions = gate.regions(walked_in.work, walked_in.media_s, [])
    assert regions, "the face that appeared must be detected"
    assert _area(regions) < 0.3 * walked_in.work.shape[0] * walked_in.work.shape[1], regions
    in_regions = detect(walked_in, engine, vision, regions)
    whole = detect(walked_in, engine, vision)
    assert len(whole) == 1, "the test face must be detectable"
    assert len(in_regions) == 1
    assert np.abs(in_regions[0].box - whole[0].box).max() < 6, (in_regions[0].box, whole[0].box)
    assert abs(in_regions[0].detector_score - whole[0].detector_score) < 0.05
