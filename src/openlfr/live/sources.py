"""Frame sources: video file, RTSP/HTTP/TCP stream, webcam device, folder of images.

Each source yields :class:`Frame` objects with a timestamp: the container's ``pts * time_base`` for files
(media time), the wall clock for live sources. A live source that is lost reconnects with exponential
back-off and reports the gap; a file or folder simply ends. Decoding uses PyAV with FFmpeg's frame
threading (``thread_type="AUTO"``); how many threads is ``live.decode_threads`` (automatic: FFmpeg's choice
for one source, the cores shared out among several). A video frame is handed on as decoded (YUV) and
converted to BGR only as far as it is needed (see :class:`Frame`): at 1080p the conversions, not the
decoding, were what a frame cost beyond detection.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal, cast

import cv2
import numpy as np
import numpy.typing as npt

from openlfr.errors import OpenLFRError
from openlfr.live.metrics import StageClock
from openlfr.vision import ImageError, load_image

# PyAV is imported where a video is opened, not here: every process that imports openlfr.live (each CLI
# command) would otherwise pay its import time at start-up.
if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

SourceKind = Literal["file", "stream", "webcam", "folder"]
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "tcp://", "udp://", "srt://")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
_NAMED = re.compile(r"^([A-Za-z0-9_.\-]+)=(.+)$")


class SourceError(OpenLFRError, ValueError):
    """A source that cannot be used; the message names it and says why."""


_local = threading.local()


def _bgr(video: av.VideoFrame, width: int | None = None, height: int | None = None) -> npt.NDArray[np.uint8]:
    """A decoded picture as BGR, shrunk with area averaging when a size is given, by one swscale pass.

    Each thread keeps its own reformatter: building swscale's context (its filters) for every frame costs
    more than the conversion itself, and a context must not be shared between threads."""
    fmt = getattr(_local, "reformatter", None)
    if fmt is None:
        from av.video.reformatter import VideoReformatter

        fmt = _local.reformatter = VideoReformatter()
    # One thread: the source's reader and worker are threads already, and swscale's own pool would
    # oversubscribe a small computer's cores (and hide its work from the stage clocks).
    out = fmt.reformat(video, width=width, height=height, format="bgr24", interpolation="AREA", threads=1)
    return cast(npt.NDArray[np.uint8], out.to_ndarray())


class Frame:
    """One decoded frame and when it was seen.

    A frame from a video (file, stream, webcam) keeps the decoder's picture (``video``, YUV as decoded) and
    makes two BGR images from it only when asked: :meth:`prepare` has FFmpeg's swscale convert and shrink
    it to the detector's working width in one pass (the reader thread does this, in parallel with the
    worker), and :attr:`image`, the full-resolution BGR frame that crops, quality and embeddings need, is
    converted on first use, so a frame with no face to assess is never converted at full size. A frame from
    a folder of images is given as ``image``.
    """

    __slots__ = ("_image", "captured_mono", "index", "media_s", "observed_at", "video", "work")

    def __init__(
        self,
        image: npt.NDArray[np.uint8] | None,
        index: int,
        media_s: float,
        observed_at: datetime,
        captured_mono: float = 0.0,
        *,
        video: av.VideoFrame | None = None,
    ) -> None:
        if image is None and video is None:
            raise ValueError("a frame needs an image or a decoded video frame")
        self._image = image
        self.video = video
        """The decoded picture, or ``None`` for an image; dropped once the full-resolution image exists."""
        self.index = index
        """Position in the source (every decoded frame counts, dropped or not)."""
        self.media_s = media_s
        """Seconds since the source started: container time for files, wall time since connecting for live."""
        self.observed_at = observed_at
        """Wall-clock time of the frame (UTC), recorded with an alert."""
        self.captured_mono = captured_mono
        """``time.monotonic()`` at which the frame counts as captured; alert latency is measured from it."""
        self.work: npt.NDArray[np.uint8] | None = None
        """The frame at the detector's working width (made by :meth:`prepare`)."""

    def __repr__(self) -> str:
        h, w = self.shape
        return f"Frame(index={self.index}, media_s={self.media_s:.3f}, {w}x{h})"

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` at full resolution, without converting anything."""
        if self._image is not None:
            return int(self._image.shape[0]), int(self._image.shape[1])
        assert self.video is not None
        return int(self.video.height), int(self.video.width)

    @property
    def converted(self) -> bool:
        """Whether the full-resolution BGR image has been made (or was given)."""
        return self._image is not None

    @property
    def image(self) -> npt.NDArray[np.uint8]:
        """The full-resolution BGR frame, converted from the decoded picture on first use."""
        if self._image is None:
            assert self.video is not None
            self._image = _bgr(self.video)
            self.video = None if self.work is not None else self.video
        return self._image

    def prepare(self, working_width: int) -> None:
        """Make the working-resolution copy once, with area averaging (it keeps small faces detectable).

        From a decoded picture, swscale converts and shrinks in one pass: a 1080p frame is never converted
        at full size for detection. From an image, OpenCV's ``INTER_AREA`` resize.
        """
        if self.work is not None:
            return
        h, w = self.shape
        if w <= working_width:
            self.work = self.image
            return
        size = (working_width, max(1, round(h * working_width / w)))
        if self._image is None:
            assert self.video is not None
            self.work = _bgr(self.video, *size)
        else:
            self.work = cast(
                npt.NDArray[np.uint8], cv2.resize(self._image, size, interpolation=cv2.INTER_AREA)
            )


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
        # Absolute, so that FFmpeg never reads a file's name ("pipe:0", "concat:...") as a protocol.
        text = str(path.absolute())
        default_id = path.stem or path.name
    return SourceSpec(camera_id or default_id, text, kind)


def _open_container(location: str, kind: SourceKind, timeout_s: float) -> av.container.InputContainer:
    import av

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
    threads: int = 0,
) -> Iterator[tuple[av.VideoFrame, float, datetime]]:
    """Decoded pictures (not converted: see :class:`Frame`) with (media seconds, wall time).

    ``threads``: FFmpeg's decoding threads for this source (0: FFmpeg's own choice, one more than the
    machine's cores)."""
    if not container.streams.video:
        raise SourceError("no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    first: float | None = None
    for n, vf in enumerate(container.decode(stream)):
        if clock is not None:
            clock.lap("decode")
        if live:
            media = time.monotonic() - started_mono
            yield vf, media, started_wall + timedelta(seconds=media)
            continue
        t = float(vf.time) if vf.time is not None else n / rate
        first = t if first is None else first
        yield vf, t - first, started_wall + timedelta(seconds=t - first)


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
        decode_threads: int = 0,
        on_event: SourceEvent | None = None,
    ) -> None:
        self.spec = spec
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.open_timeout_s = open_timeout_s
        self.folder_fps = folder_fps
        self.decode_threads = decode_threads
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
        return sorted(
            p
            for p in Path(self.spec.location).iterdir()
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()  # a fifo named x.jpg would block or stream
        )

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
            decoded = _decode(container, False, started_mono, started_wall, clock, self.decode_threads)
            for i, (vf, media, wall) in enumerate(decoded):
                if stop.is_set():
                    return
                yield Frame(None, i, media, wall, started_mono + media, video=vf)

    def _live(self, stop: threading.Event, clock: StageClock | None = None) -> Iterator[Frame]:
        import av

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
                    decoded = _decode(container, True, started_mono, started_wall, clock, self.decode_threads)
                    for vf, _media, _wall in decoded:
                        now_mono = time.monotonic()
                        media = now_mono - started_mono
                        wall = started_wall + timedelta(seconds=media)
                        yield Frame(None, index, media, wall, now_mono, video=vf)
                        index += 1
                        if stop.is_set():
                            return
            except (av.FFmpegError, OSError, SourceError) as exc:
                reason = str(exc)
            if stop.is_set():
                return
            lost_at = time.monotonic()
            self.on_event("disconnected", f"{self.spec.camera_id}: {reason}", 0.0)
