"""Sources on real media: container timestamps, folders, clear errors, and a stream that dies and returns."""

from __future__ import annotations

import shutil
import threading
import time
from fractions import Fraction
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from openlfr.config import LiveSettings, Settings
from openlfr.live.memory_gateway import InMemoryGateway
from openlfr.live.pipeline import CameraWorker
from openlfr.live.sources import FrameSource, SourceError, parse_source
from openlfr.vision import FaceEngine
from tests.live.conftest import ABSENT, THRESHOLD


def test_parse_source_kinds_and_camera_names(tmp_path: Path, hamilton: Path) -> None:
    assert parse_source("rtsp://10.0.0.5:554/stream1").kind == "stream"
    named = parse_source("gate-a=http://127.0.0.1:8080/live.ts?token=a=b")
    assert (named.camera_id, named.location, named.kind) == (
        "gate-a",
        "http://127.0.0.1:8080/live.ts?token=a=b",
        "stream",
    )
    cam = parse_source("0")
    assert (cam.kind, cam.location, cam.live) == ("webcam", "/dev/video0", True)
    assert parse_source(str(tmp_path)).kind == "folder"
    f = parse_source(f"cam1={hamilton}")
    assert (f.camera_id, f.kind, f.live) == ("cam1", "file", False)
    with pytest.raises(SourceError, match="no such file or folder"):
        parse_source(str(tmp_path / "missing.mp4"))


def test_file_frames_carry_container_timestamps(hamilton: Path) -> None:
    src = FrameSource(parse_source(str(hamilton)))
    src.check()
    assert src.native_fps == pytest.approx(29.97, abs=0.01)
    stop = threading.Event()
    frames = []
    for fr in src.frames(stop):
        frames.append((fr.index, fr.media_s, fr.image.shape))
        if fr.index == 60:
            stop.set()
    assert frames[0][1] == 0.0 and frames[0][2] == (360, 640, 3)
    assert frames[60][1] == pytest.approx(60 / 29.97, abs=0.002)


def test_a_file_that_is_not_a_video_is_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with pytest.raises(SourceError, match="cannot be opened"):
        FrameSource(parse_source(str(bad))).check()


def test_folder_source_skips_unreadable_images(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, parts in enumerate(ABSENT.values()):
        shutil.copy(data_dir.joinpath(*parts), folder / f"{i:03d}.jpg")
    (folder / "002.jpg").write_bytes(b"\xff\xd8 truncated")
    events: list[str] = []
    src = FrameSource(parse_source(str(folder)), folder_fps=2.0, on_event=lambda k, m, s: events.append(m))
    frames = list(src.frames(threading.Event()))
    assert [f.index for f in frames] == [0, 1, 3]
    assert [f.media_s for f in frames] == [0.0, 0.5, 1.5]
    assert len(events) == 1 and "002.jpg" in events[0]


def _transcode_head(src: Path, dst: Path, frames: int) -> None:
    """The first frames of a clip as an MPEG-TS file (what a camera's HTTP stream looks like)."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="mpegts") as out:
        ost = out.add_stream("mpeg4", rate=25)
        ost.width, ost.height, ost.pix_fmt = 320, 180, "yuv420p"
        for i, frame in enumerate(inp.decode(video=0)):
            if i >= frames:
                break
            small = frame.reformat(320, 180, "yuv420p")
            small.pts, small.time_base = i, Fraction(1, 25)
            for packet in ost.encode(small):
                out.mux(packet)
        for packet in ost.encode():
            out.mux(packet)


class _Server:
    """A real HTTP server on 127.0.0.1 serving one folder, that can be stopped and started on the same port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = 0
        self.served = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        served = self.served

        class Handler(SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                super().do_GET()
                served.set()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(
            ("127.0.0.1", self.port), partial(Handler, directory=str(self.folder))
        )
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()


def test_a_stream_that_dies_and_comes_back_is_reconnected(
    tmp_path: Path, hamilton: Path, settings: Settings, engine: FaceEngine, watchlist_of_absent_people: Path
) -> None:
    _transcode_head(hamilton, tmp_path / "live.ts", frames=40)
    server = _Server(tmp_path)
    server.start()
    settings = settings.model_copy(
        update={"live": LiveSettings(reconnect_initial_s=0.2, reconnect_max_s=0.4, open_timeout_s=2.0)}
    )
    gateway = InMemoryGateway.from_folder(watchlist_of_absent_people, engine, threshold=THRESHOLD)
    spec = parse_source(f"door=http://127.0.0.1:{server.port}/live.ts")
    gateway.allow_camera(spec.camera_id)
    worker = CameraWorker(spec, gateway, settings, engine=engine)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert server.served.wait(20), "the stream was never requested"
        server.stop()  # the stream dies...
        deadline = time.monotonic() + 20
        while worker.metrics.frames_in < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker.metrics.frames_in == 40
        time.sleep(1.0)  # ...stays down for a second (connection refused, back-off)...
        assert worker.metrics.state == "reconnecting" and worker.metrics.reconnects == 0
        server.served.clear()
        server.start()  # ...and comes back on the same address.
        deadline = time.monotonic() + 20
        while worker.metrics.frames_in < 80 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(10)
    snap = worker.metrics.snapshot()
    assert snap["frames_in"] >= 80, snap
    assert snap["reconnects"] >= 1
    assert snap["gaps_s"][0] >= 1.0  # the gap that was reported covers the second it was down
    assert snap["frames_processed"] + snap["frames_dropped"] == snap["frames_in"]
