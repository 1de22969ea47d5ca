"""Frame intake at 1080p: the working-width frame comes from swscale in one pass, the full-resolution frame is
converted only when a face needs it, and both give what converting the whole frame first gave."""

from __future__ import annotations

import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from openlfr.config import Settings
from openlfr.live.memory_gateway import InMemoryGateway
from openlfr.live.metrics import STAGES
from openlfr.live.pipeline import CameraWorker, LivePipeline
from openlfr.live.sources import Frame, FrameSource, parse_source
from openlfr.live.stages import detect
from openlfr.live.tracker import iou_matrix
from openlfr.vision import FaceEngine, cosine_similarity
from tests.live.conftest import THRESHOLD, encode_clip


@pytest.fixture(scope="module")
def hamilton_1080p(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Frames 120-159 of the Hamilton clip (Miranda on stage) upscaled to 1920x1080, as a camera sends them."""
    with av.open(str(hamilton)) as c:
        frames = [f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if 120 <= i < 160]
    return encode_clip(frames, tmp_path_factory.mktemp("clip") / "hamilton-1080p.mp4", (1920, 1080))


def _frames(path: Path, n: int) -> list[Frame]:
    src = FrameSource(parse_source(str(path)))
    out = []
    for fr in src.frames(threading.Event()):
        out.append(fr)
        if len(out) == n:
            break
    return out


def test_the_working_frame_is_bgr_at_the_working_width_without_a_full_conversion(tmp_path: Path) -> None:
    """Coloured quadrants: a swapped channel order, a wrong size or a wrong scaling fails here."""
    colours = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0), "white": (255, 255, 255)}
    img = np.zeros((720, 1280, 3), np.uint8)
    img[:360, :640], img[:360, 640:] = colours["red"], colours["green"]
    img[360:, :640], img[360:, 640:] = colours["blue"], colours["white"]
    (frame,) = _frames(encode_clip([img] * 3, tmp_path / "quadrants.mp4", (1280, 720)), 1)
    assert frame.shape == (720, 1280) and not frame.converted
    frame.prepare(640)
    assert not frame.converted, "making the working frame must not convert the full frame"
    assert frame.work is not None and frame.work.shape == (360, 640, 3) and frame.work.dtype == np.uint8
    for (y, x), name in zip([(90, 160), (90, 480), (270, 160), (270, 480)], colours, strict=True):
        assert np.abs(frame.work[y, x].astype(int) - colours[name]).max() <= 12, (name, frame.work[y, x])
    full = frame.image
    assert frame.converted and full.shape == (720, 1280, 3)
    for (y, x), name in zip([(180, 320), (180, 960), (540, 320), (540, 960)], colours, strict=True):
        assert np.abs(full[y, x].astype(int) - colours[name]).max() <= 12, (name, full[y, x])
    # The same picture as converting the whole frame and shrinking it with OpenCV (the former path).
    former = cv2.resize(full, (640, 360), interpolation=cv2.INTER_AREA)
    assert np.abs(former.astype(int) - frame.work.astype(int)).mean() < 1.0


def test_swscale_intake_finds_the_same_faces_crops_and_embeddings_as_converting_the_whole_frame(
    hamilton_1080p: Path, engine: FaceEngine
) -> None:
    """The new path (swscale to the working width, full frame lazily) against the former one (whole frame
    to BGR, then ``cv2.resize``), on 1080p frames of the Hamilton clip: the same faces, the same crops, and
    embeddings as close as two shots of a face one frame apart."""
    checked = 0
    for frame in _frames(hamilton_1080p, 40)[::5]:
        assert frame.video is not None
        whole = frame.video.to_ndarray(format="bgr24")  # the former path: every pixel converted
        former_work = cv2.resize(whole, (640, 360), interpolation=cv2.INTER_AREA)
        frame.prepare(640)
        assert frame.work is not None
        new = [f.scaled(3.0) for f in engine.detector.detect(frame.work)]
        old = [f.scaled(3.0) for f in engine.detector.detect(former_work)]
        new = [f for f in new if f.detector_score >= engine.vision.detection_score]
        old = [f for f in old if f.detector_score >= engine.vision.detection_score]
        assert len(new) == len(old)
        if not new:
            continue
        iou = iou_matrix(np.stack([f.box for f in new]), np.stack([f.box for f in old]))
        pairs = iou.argmax(axis=1)
        assert (iou.max(axis=1) >= 0.9).all(), iou
        # The lazily converted full frame is exactly the former one: crops and alignment see the same pixels.
        assert np.array_equal(frame.image, whole)
        emb_new = engine.embed(frame.image, new)
        emb_old = engine.embed(whole, [old[j] for j in pairs])
        for a, b in zip(emb_new, emb_old, strict=True):
            assert a.embedding is not None and b.embedding is not None
            assert cosine_similarity(a.embedding, b.embedding) >= 0.97
        checked += len(new)
    assert checked >= 4, "the clip's frames should show faces"


def test_a_frame_without_faces_is_never_converted_at_full_size(
    tmp_path: Path,
    hamilton_1080p: Path,
    settings: Settings,
    engine: FaceEngine,
    watchlist_of_absent_people: Path,
) -> None:
    """The worker converts the full frame only for faces it assesses, and charges every stage's time."""
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    spec = parse_source(f"cam={hamilton_1080p}")
    gateway.allow_camera(spec.camera_id)
    worker = CameraWorker(spec, gateway, settings, engine=engine)
    black = encode_clip([np.zeros((360, 640, 3), np.uint8)] * 3, tmp_path / "black.mp4", (1920, 1080))
    (empty,) = _frames(black, 1)
    worker.process(empty)
    assert empty.work is not None and empty.work.shape == (360, 640, 3)
    assert not empty.converted
    with_faces = _frames(hamilton_1080p, 1)[0]
    worker.process(with_faces)
    assert with_faces.converted, "a face to assess needs the full-resolution frame"
    snap = worker.metrics.snapshot()
    assert snap["faces_seen"] >= 1
    assert {"detect", "track", "quality", "convert"} <= set(snap["stage_wall_s"]) <= set(STAGES)
    assert all(v >= 0 for v in snap["stage_wall_s"].values())


def _sharing_at_512(settings: Settings) -> Settings:
    """Several sources detected at 512 px, narrower than one source's 640 (the default shares 640 since issue
    29), so that the tests can tell the two widths apart."""
    return settings.model_copy(
        update={"vision": settings.vision.model_copy(update={"shared_working_width": 512})}
    )


def test_sources_sharing_a_process_are_detected_at_the_shared_working_width(
    hamilton_1080p: Path,
    settings: Settings,
    engine: FaceEngine,
    watchlist_of_absent_people: Path,
) -> None:
    """One source keeps ``vision.working_width``; with two, each is detected at ``shared_working_width``
    (set smaller here, as a box with more cameras than its cores hold would set it), and the faces are still
    found at full-resolution coordinates."""
    settings = _sharing_at_512(settings)
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    spec = parse_source(f"cam={hamilton_1080p}")
    gateway.allow_camera(spec.camera_id)
    alone = CameraWorker(spec, gateway, settings, engine=engine)
    shared = CameraWorker(spec, gateway, settings, engine=engine, sharing=2)
    assert settings.vision.shared_working_width < settings.vision.working_width
    assert alone.working_width == settings.vision.working_width
    assert shared.working_width == settings.vision.shared_working_width
    frame_alone, frame_shared = _frames(hamilton_1080p, 1)[0], _frames(hamilton_1080p, 1)[0]
    frame_alone.prepare(alone.working_width)  # the prepare stage (the reader's, run here by hand)
    frame_shared.prepare(shared.working_width)
    faces_alone = detect(frame_alone, engine, settings.vision)
    faces_shared = detect(frame_shared, engine, settings.vision)
    assert frame_alone.work is not None and frame_alone.work.shape[1] == settings.vision.working_width
    assert (
        frame_shared.work is not None and frame_shared.work.shape[1] == settings.vision.shared_working_width
    )
    assert faces_shared, "the shared width still finds the faces on stage"
    largest = max(faces_alone, key=lambda f: f.size)
    ious = iou_matrix(np.array([largest.box]), np.array([f.box for f in faces_shared]))
    assert ious.max() > 0.8, "boxes come back in full-resolution coordinates"


def test_the_detector_runs_on_one_frame_in_detect_every_frames_and_the_tracks_carry_across(
    hamilton_1080p: Path,
    settings: Settings,
    engine: FaceEngine,
    watchlist_of_absent_people: Path,
) -> None:
    """With ``detect_every_frames`` 2 every frame is processed, only every second one is detected (and
    shrunk); a dropped frame does not push the next detection further away, and the faces on stage keep
    one track each across the frames between detections."""
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    spec = parse_source(f"cam={hamilton_1080p}")
    gateway.allow_camera(spec.camera_id)
    live = settings.live.model_copy(update={"detect_every_frames": 2})
    worker = CameraWorker(spec, gateway, settings.model_copy(update={"live": live}), engine=engine)
    frames = _frames(hamilton_1080p, 12)
    kept = [f for f in frames if f.index != 5]  # frame 5 "dropped": 6 follows 4, so 6 is detected
    for frame in kept:
        worker.process(frame)
    detected = [f.index for f in kept if f.work is not None]
    assert detected == [0, 2, 4, 6, 8, 10]
    snap = worker.metrics.snapshot()
    assert snap["frames_processed"] == len(kept) and snap["frames_detected"] == len(detected)
    assert snap["faces_seen"] >= len(detected), "the faces on stage are found on every detected frame"
    longest = max(tr.frames for tr in worker.tracker.tracks.values())
    assert longest == len(detected), "the face on stage keeps one track across the frames not detected"

    every = CameraWorker(
        spec,
        gateway,
        settings.model_copy(update={"live": live.model_copy(update={"detect_every_frames": 1})}),
        engine=engine,
    )
    for frame in _frames(hamilton_1080p, 4):
        every.process(frame)
    assert every.metrics.snapshot()["frames_detected"] == 4


def test_a_dropped_scheduled_frame_is_made_up_by_the_next_and_the_schedule_is_kept(
    hamilton_1080p: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    """Frame 4, due for detection, is dropped: frame 5 is detected instead, and then the frames the reader
    prepares (even ones) again, so the worker never shrinks frames the reader has shrunk already."""
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    spec = parse_source(f"cam={hamilton_1080p}")
    gateway.allow_camera(spec.camera_id)
    worker = CameraWorker(spec, gateway, settings, engine=engine)
    assert settings.live.detect_every_frames == 2
    kept = [f for f in _frames(hamilton_1080p, 12) if f.index != 4]
    for frame in kept:
        worker.process(frame)
    assert [f.index for f in kept if f.work is not None] == [0, 2, 5, 6, 8, 10]


def test_a_source_that_starts_again_is_detected_at_once(
    hamilton_1080p: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    """A frame whose index does not follow on (the source restarted from 0) is detected."""
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    spec = parse_source(f"cam={hamilton_1080p}")
    gateway.allow_camera(spec.camera_id)
    worker = CameraWorker(spec, gateway, settings, engine=engine)
    first, again = _frames(hamilton_1080p, 1)[0], _frames(hamilton_1080p, 1)[0]
    worker.process(first)
    worker.process(again)
    assert worker.metrics.snapshot()["frames_detected"] == 2


def test_sources_on_machine_shares_the_cores_across_worker_processes(
    hamilton_1080p: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    """One camera per ``openlfr worker`` process, four on one machine: each detects at the shared width,
    as four sources of one process do."""
    settings = _sharing_at_512(settings)
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    live = settings.live.model_copy(update={"sources_on_machine": 4})
    four = LivePipeline(
        [parse_source(f"cam={hamilton_1080p}")], gateway, settings.model_copy(update={"live": live})
    )
    alone = LivePipeline([parse_source(f"cam={hamilton_1080p}")], gateway, settings)
    assert four.workers[0].working_width == settings.vision.shared_working_width
    assert alone.workers[0].working_width == settings.vision.working_width
