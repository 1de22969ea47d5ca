"""Probe media to faces: every face of an image; a video's tracks, each with its best shots.

A video is analysed within a frame budget (``retro.video_frame_budget``): a longer video is sampled evenly,
so a 4-hour clip costs the same bounded work as a 2-minute one, with progress reported and a cancel
checked between frames. Tracking reuses the live tracker, so one person gives one candidate list.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from openlfr.config import Settings
from openlfr.governance.errors import GovernanceError
from openlfr.live.tracker import FaceTracker
from openlfr.vision.engine import BGRImage, FaceEngine
from openlfr.vision.face import Face, FloatArray
from openlfr.vision.image_io import ImageError, encode_jpeg, load_image

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv"})

Progress = Callable[[int, int], None]
"""``(frames analysed, frames planned)``."""


class RetroError(GovernanceError):
    """Bad probe media or request; the message names the file and the problem."""


class Cancelled(RetroError):
    """The search was cancelled before it finished; nothing was stored."""


@dataclass
class ProbeFace:
    """One person in the probe media: an image's face, or a video track's best shots."""

    media_name: str
    media_sha256: str
    face_index: int
    box: list[float]
    quality: float
    embeddings: list[FloatArray] = field(repr=False)
    crop_jpeg: bytes = field(repr=False)
    frame_index: int | None = None
    low_quality: tuple[str, ...] = ()
    """Reasons the best shot is below the quality bar (searched anyway, and said so)."""


def _crop(image: BGRImage, face: Face, margin: float = 0.3) -> BGRImage:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = face.box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    a, b = max(0, int(x1 - mx)), max(0, int(y1 - my))
    c, d = min(w, int(x2 + mx) + 1), min(h, int(y2 + my) + 1)
    return np.ascontiguousarray(image[b:d, a:c])


def analyse_image(engine: FaceEngine, data: bytes, name: str, settings: Settings) -> list[ProbeFace]:
    """Every detected face of an image, embedded (low-quality faces too, flagged)."""
    vs = settings.vision
    try:
        image = load_image(data, name=name, max_pixels=vs.max_image_pixels, max_bytes=vs.max_image_bytes)
    except ImageError as exc:
        raise RetroError(f"{name}: {exc}") from exc
    faces = engine.analyse(image)
    if not faces:  # a tight crop needs a border before a scene detector finds the face
        faces = engine.analyse(image, pad=0.5)
    if not faces:
        raise RetroError(f"{name}: no face found")
    sha = hashlib.sha256(data).hexdigest()
    out = []
    for i, f in enumerate(sorted(faces, key=lambda f: -f.size)):
        assert f.embedding is not None and f.quality is not None
        out.append(
            ProbeFace(
                media_name=name,
                media_sha256=sha,
                face_index=i,
                box=[round(float(v), 1) for v in f.box],
                quality=float(f.quality.score),
                embeddings=[f.embedding],
                crop_jpeg=encode_jpeg(_crop(image, f)),
                low_quality=tuple(f.quality.reasons),
            )
        )
    return out


@dataclass
class _Shots:
    best: list[tuple[float, int, FloatArray, bytes, list[float], tuple[str, ...]]] = field(
        default_factory=list
    )


def analyse_video(
    engine: FaceEngine,
    path: Path,
    settings: Settings,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[ProbeFace]:
    """One ``ProbeFace`` per track, holding its best shots (``retro.best_shots_per_track``)."""
    import av  # here, not at the top: every CLI process imports this module, few of them read a video

    name = str(path)
    rs = settings.retro
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise RetroError(f"{name}: not a readable video ({exc})") from exc
    with container:
        if not container.streams.video:
            raise RetroError(f"{name}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        total = int(stream.frames or 0)
        if not total and stream.duration and stream.time_base:
            total = int(float(stream.duration * stream.time_base) * rate)
        if not total and container.duration:
            total = int(container.duration / 1_000_000 * rate)
        stride = max(1, math.ceil(total / rs.video_frame_budget)) if total else 1
        planned = min(rs.video_frame_budget, math.ceil(total / stride)) if total else rs.video_frame_budget
        # At the sampled rate a face moves further between analysed frames: the tracker allows for it.
        tracker = FaceTracker(
            settings.live.track_iou, max(settings.live.track_max_age_s, 2.5 * stride / rate)
        )
        shots: dict[int, _Shots] = {}
        analysed = 0
        sha = hashlib.sha256()
        try:
            for n, frame in enumerate(container.decode(stream)):
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"{name}: cancelled after {analysed} of {planned} frames; nothing stored")
                if n % stride:
                    continue
                if analysed >= rs.video_frame_budget:
                    break
                image = cast(BGRImage, frame.to_ndarray(format="bgr24"))
                sha.update(image[::16, ::16].tobytes())  # a fingerprint of the decoded content, cheap
                t = float(frame.time) if frame.time is not None else n / rate
                faces = engine.assess(image, engine.detect(image))
                current, _ = tracker.update(faces, t)
                for tr, face in zip(current, faces, strict=True):
                    q = face.quality
                    assert q is not None
                    s = shots.setdefault(tr.id, _Shots())
                    if len(s.best) < rs.best_shots_per_track or q.score > s.best[-1][0]:
                        emb = engine.embed(image, [face])[0].embedding
                        assert emb is not None
                        entry = (
                            float(q.score),
                            n,
                            emb,
                            encode_jpeg(_crop(image, face)),
                            [round(float(v), 1) for v in face.box],
                            tuple(q.reasons),
                        )
                        s.best = sorted([*s.best, entry], key=lambda e: -e[0])[: rs.best_shots_per_track]
                analysed += 1
                if progress is not None:
                    progress(analysed, planned)
        except av.FFmpegError as exc:
            raise RetroError(f"{name}: the video is corrupt ({exc})") from exc
    if analysed == 0:
        raise RetroError(f"{name}: no frame could be decoded")
    if not shots:
        raise RetroError(f"{name}: no face found in {analysed} analysed frames")
    digest = sha.hexdigest()
    out = []
    for i, (_, s) in enumerate(sorted(shots.items(), key=lambda kv: -kv[1].best[0][0])):
        score, frame_index, _, crop, box, reasons = s.best[0]
        out.append(
            ProbeFace(
                media_name=name,
                media_sha256=digest,
                face_index=i,
                box=box,
                quality=score,
                embeddings=[e[2] for e in s.best],
                crop_jpeg=crop,
                frame_index=frame_index,
                low_quality=reasons,
            )
        )
    return out


def analyse_media(
    engine: FaceEngine,
    path: Path,
    settings: Settings,
    *,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> list[ProbeFace]:
    """Faces of an image or a video file (by its suffix)."""
    if not path.is_file():
        raise RetroError(f"{path}: file not found")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return analyse_video(engine, path, settings, progress=progress, cancel=cancel)
    return analyse_image(engine, path.read_bytes(), str(path), settings)
