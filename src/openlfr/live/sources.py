"""Frame sources: video file, RTSP/HTTP/TCP stream, webcam device, folder of images.

Each source yields :class:`Frame` objects with a timestamp: the container's ``pts * time_base`` for files
(media time), the wall clock for live sources. A live source that is lost reconnects with exponential
back-off and reports the gap; a file or folder simply ends. Decoding uses PyAV with FFmpeg's own frame
threading (``thread_type="AUTO"``), which matters for 1080p on two cores.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, cast

import av
import cv2
import numpy as np
import numpy.typing as npt

from openlfr.errors import OpenLFRError
from openlfr.live.metrics import StageClock
from openlfr.vision import ImageError, load_image

log = logging.getLogger(__name__)

SourceKind = Literal["file", "stream", "webcam", "folder"]
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "tcp://", "udp://", "srt://")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
_NAMED = re.compile(r"^([A-Za-z0-9_.\-]+)=(.+)$")


class SourceError(OpenLFRError, ValueError):
    """A source that cannot be used; the message names it and says why."""


@dataclass
class Frame:
    """One decoded frame and when it was seen."""

    image: npt.NDArray[np.uint8] = field(repr=False)
    index: int
    """Position in the source (every decoded frame counts, dropped or not)."""
    media_s: float
    """Seconds since the source started: container time for files, wall time since connecting for live."""
    observed_at: datetime
    """Wall-clock time of the frame (UTC), recorded with an alert."""
    captured_mono: float = 0.0
    """``time.monotonic()`` at which the frame counts as captured; alert latency is measured from it."""
    work: npt.NDArray[np.uint8] | None = field(default=None, repr=False)
    """The frame at the detector's working width (made by the reader thread, in parallel with the worker)."""

    def prepare(self, working_width: int) -> None:
        """Make the working-resolution copy once (INTER_AREA keeps small faces detectable)."""
        h, w = self.image.shape[:2]
        if self.work is None:
            if w > working_width:
                size = (working_width, max(1, round(h * working_width / w)))
                self.work = cast(
                    npt.NDArray[np.uint8], cv2.resize(self.image, size, interpolation=cv2.INTER_AREA)
                )
            else:
                self.work = self.image


@dataclass(frozen=True)
class SourceSpec:
    camera_id: str
    location: str
    kind: SourceKind

    @property
    def live(self) -> bool:
        """A live source never waits for the pipeline: it drops frames instead, and reconnects when lost."""
        return self.kind in ("stream", "webcam")


def parse_source(text: str, camera_id: str | None = None) -> SourceSpec:
    """``[CAMERA=]SOURCE`` to a spec: a stream URL, a webcam (``0`` or ``/dev/video0``), a folder or a file."""
    text = text.strip()
    m = _NAMED.match(text)
    if m and not any(c in m.group(1) for c in ":/"):
        camera_id, text = m.group(1), m.group(2)
    if not text:
        raise SourceError("empty source")
    if text.lower().startswith(STREAM_SCHEMES):
        kind: SourceKind = "stream"
        default_id = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.split("://", 1)[1]).strip("-")[:60]
    elif text.isdigit() or text.startswith("/dev/video"):
        kind = "webcam"
        text = f"/dev/video{text}" if text.isdigit() else text
        default_id = Path(text).name
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise SourceError(f"{text}: no such file or folder (and not a stream URL such as rtsp://...)")
        kind = "folder" if path.is_dir() else "file"
        text = str(path)
        default_id = path.stem or path.name
    return SourceSpec(camera_id or default_id, text, kind)


def _open_container(location: str, kind: SourceKind, timeout_s: float) -> av.container.InputContainer:
    options = {}
    if kind == "stream" and location.startswith(("rtsp://", "rtsps://")):
        options["rtsp_transport"] = "tcp"
    try:
        if kind == "webcam":
            return av.open(location, format="v4l2", timeout=timeout_s)
        return av.open(location, options=options, timeout=(timeout_s, timeout_s))
    except (av.FFmpegError, OSError) as exc:
        raise SourceError(f"{location}: cannot be opened ({exc})") from exc


def _decode(
    container: av.container.InputContainer,
    live: bool,
    started_mono: float,
    started_wall: datetime,
    clock: StageClock | None = None,
) -> Iterator[tuple[npt.NDArray[np.uint8], float, datetime]]:
    """Decoded BGR frames with (media seconds, wall time)."""
    if not container.streams.video:
        raise SourceError("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    first: float | None = None
    for n, vf in enumerate(container.decode(stream)):
        if clock is not None:
            clock.lap("decode")
        img = cast(npt.NDArray[np.uint8], vf.to_ndarray(format="bgr24"))
        if clock is not None:
            clock.lap("convert")
        if live:
            media = time.monotonic() - started_mono
            yield img, media, started_wall + timedelta(seconds=media)
            continue
        t = float(vf.time) if vf.time is not None else n / rate
        first = t if first is None else first
        yield img, t - first, started_wall + timedelta(seconds=t - first)


SourceEvent = Callable[[str, str, float], None]
"""``(kind, message, seconds)``: ``"disconnected"``, ``"reconnected"`` (seconds = the gap), ``"error"``."""


class FrameSource:
    """Iterate :meth:`frames` until ``stop`` is set or the source ends (files and folders only)."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        reconnect_initial_s: float = 0.5,
        reconnect_max_s: float = 30.0,
        open_timeout_s: float = 5.0,
        folder_fps: float = 1.0,
        on_event: SourceEvent | None = None,
    ) -> None:
        self.spec = spec
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.open_timeout_s = open_timeout_s
        self.folder_fps = folder_fps
        self.on_event = on_event or (lambda kind, msg, s: None)
        self.native_fps: float | None = None
        self.reconnects = 0

    def check(self) -> None:
        """Open a file or folder source once to fail early with a clear message (streams may come later)."""
        if self.spec.kind == "file":
            with _open_container(self.spec.location, "file", self.open_timeout_s) as c:
                if not c.streams.video:
                    raise SourceError(f"{self.spec.location}: no video stream in the file")
                s = c.streams.video[0]
                self.native_fps = float(s.average_rate or s.guessed_rate or 25)
        elif self.spec.kind == "folder" and not self._folder_images():
            raise SourceError(f"{self.spec.location}: no images (.jpg, .png, ...) in the folder")

    def _folder_images(self) -> list[Path]:
        return sorted(p for p in Path(self.spec.location).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def frames(self, stop: threading.Event, clock: StageClock | None = None) -> Iterator[Frame]:
        """The source's frames; decoding and conversion are charged to ``clock`` when given."""
        if self.spec.kind == "folder":
            yield from self._folder(stop)
        elif self.spec.live:
            yield from self._live(stop, clock)
        else:
            yield from self._file(stop, clock)

    def _folder(self, stop: threading.Event) -> Iterator[Frame]:
        started_wall, started_mono = datetime.now(UTC), time.monotonic()
        for i, path in enumerate(self._folder_images()):
            if stop.is_set():
                return
            try:
                img = load_image(path)
            except ImageError as exc:
                self.on_event("error", f"skipped: {exc}", 0.0)
                continue
            t = i / self.folder_fps
            yield Frame(img, i, t, started_wall + timedelta(seconds=t), started_mono + t)

    def _file(self, stop: threading.Event, clock: StageClock | None = None) -> Iterator[Frame]:
        started_wall, started_mono = datetime.now(UTC), time.monotonic()
        with _open_container(self.spec.location, "file", self.open_timeout_s) as container:
            s = container.streams.video[0] if container.streams.video else None
            self.native_fps = float(s.average_rate or s.guessed_rate or 25) if s else None
            for i, (img, media, wall) in enumerate(
                _decode(container, False, started_mono, started_wall, clock)
            ):
                if stop.is_set():
                    return
                yield Frame(img, i, media, wall, started_mono + media)

    def _live(self, stop: threading.Event, clock: StageClock | None = None) -> Iterator[Frame]:
        started_wall, started_mono = datetime.now(UTC), time.monotonic()
        index = 0
        delay = self.reconnect_initial_s
        lost_at: float | None = None
        while not stop.is_set():
            try:
                container = _open_container(self.spec.location, self.spec.kind, self.open_timeout_s)
            except SourceError as exc:
                if lost_at is None:  # never connected yet: still a gap from the start
                    lost_at = time.monotonic()
                    self.on_event("disconnected", str(exc), 0.0)
                log.info("source %s: reconnecting in %.1f s", self.spec.camera_id, delay)
                if stop.wait(delay):
                    return
                delay = min(delay * 2, self.reconnect_max_s)
                continue
            if lost_at is not None:
                gap = time.monotonic() - lost_at
                self.reconnects += 1
                self.on_event("reconnected", f"{self.spec.camera_id}: back after {gap:.1f} s", gap)
                lost_at = None
            delay = self.reconnect_initial_s
            reason = "stream ended"
            try:
                with container:
                    for img, _media, _wall in _decode(container, True, started_mono, started_wall, clock):
                        now_mono = time.monotonic()
                        media = now_mono - started_mono
                        yield Frame(img, index, media, started_wall + timedelta(seconds=media), now_mono)
                        index += 1
                        if stop.is_set():
                            return
            except (av.FFmpegError, OSError, SourceError) as exc:
                reason = str(exc)
            if stop.is_set():
                return
            lost_at = time.monotonic()
            self.on_event("disconnected", f"{self.spec.camera_id}: {reason}", 0.0)
