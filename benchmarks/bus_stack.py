"""What the bus benchmarks share: a private Redis, a store with an open deployment and a watchlist that the
Hamilton clip alerts on, ``openlfr serve`` with the bus configured, ``openlfr worker`` processes, and a
looped (optionally upscaled) clip for paced sources.

Everything runs in a temporary folder of its own and is stopped and removed on exit. The store is SQLite in
that folder, or ``database_url`` (PostgreSQL; its tables must be empty of this run's deployment).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from benchmarks._common import ROOT, data_dir

from openlfr.config import BusSettings, Settings, StoreSettings

HAMILTON = ("videos", "face_recognition__short_hamilton_clip.mp4")
CLI = [sys.executable, "-c", "from openlfr.cli import app; app()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A private ``redis-server`` (append-only file, fsync every second) on a free port; its URL."""
    import redis

    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def upscaled_clip(source: Path, height: int | None, fps: float, folder: Path) -> Path:
    """``source`` re-encoded at ``height`` (H.264, ``fps``), or ``source`` itself when ``height`` is None."""
    if height is None:
        return source
    import av
    import cv2

    out = folder / f"{source.stem}-{height}p.mp4"
    with av.open(str(source)) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=round(fps))
        stream.options = {"preset": "veryfast", "crf": "23"}
        stream.pix_fmt = "yuv420p"
        size: tuple[int, int] | None = None
        for frame in src.decode(video=0):
            img = frame.to_ndarray(format="bgr24")
            if size is None:
                h, w = img.shape[:2]
                size = (int(round(w * height / h / 2) * 2), height)
                stream.width, stream.height = size
            big = cv2.resize(img, size, interpolation=cv2.INTER_LINEAR)
            for packet in stream.encode(av.VideoFrame.from_ndarray(big, format="bgr24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return out


def looped_clip(clip: Path, seconds: float, folder: Path) -> Path:
    """``clip`` repeated (packets copied, timestamps shifted; no re-encoding) until it lasts ``seconds``: the
    file sources of ``openlfr worker`` play it paced, like a camera that keeps filming."""
    import av

    out = folder / f"{clip.stem}-loop{int(seconds)}s.mp4"
    with av.open(str(clip)) as probe:
        vs = probe.streams.video[0]
        duration = float(probe.duration or 0) / 1_000_000 or float(vs.frames) / float(vs.average_rate or 25)
    loops = max(1, int(seconds // duration) + 1)
    with av.open(str(out), "w") as dst:
        ostream: Any = None
        offset = 0
        for _ in range(loops):
            with av.open(str(clip)) as src:
                istream = src.streams.video[0]
                if ostream is None:
                    ostream = dst.add_stream_from_template(istream)
                last = 0
                for packet in src.demux(istream):
                    if packet.dts is None:
                        continue
                    last = max(last, int(packet.pts or packet.dts) + int(packet.duration or 0))
                    packet.pts = None if packet.pts is None else packet.pts + offset
                    packet.dts = packet.dts + offset
                    packet.stream = ostream
                    dst.mux(packet)
                offset += last
    return out


class BusStack:
    """Redis, a store with an open deployment (the Miranda photo enrolled, so the Hamilton clip alerts),
    console users, and the processes this run starts (``serve``, ``worker``), all stopped on exit."""

    def __init__(
        self,
        cameras: Sequence[str],
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        env: dict[str, str] | None = None,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.cameras = list(cameras)
        self.database_url = database_url
        self.redis_url = redis_url
        self.extra_env = dict(env or {})
        self.heartbeat_s = heartbeat_s
        self.tmp = Path(tempfile.mkdtemp(prefix="openlfr-bus-stack-"))
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}
        self.store: Any = None
        self.deployment_id = ""
        self.settings: Settings | None = None

    def __enter__(self) -> BusStack:
        from tests.api.conftest import add_users
        from tests.live.conftest import ABSENT, MIRANDA, open_stored_deployment

        from openlfr.vision import load_engine

        url = self.redis_url
        if url is None:
            self.redis_proc, url = start_redis(self.tmp / "redis")
        bus = BusSettings(
            url=url, prefix=f"bench{uuid.uuid4().hex[:8]}", heartbeat_s=self.heartbeat_s, lease_s=15.0
        )
        self.settings = Settings(
            data_dir=self.tmp / "openlfr", bus=bus, store=StoreSettings(database_url=self.database_url)
        )
        engine = load_engine("opencv-zoo", self.settings)
        self.store, self.deployment_id = open_stored_deployment(
            self.settings, {"lin_manuel_miranda": MIRANDA, **ABSENT}, self.cameras, engine
        )
        add_users(self.store)
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        for name in list(self.procs):
            self.stop(name)
        if self.store is not None:
            self.store.close()
        if self.redis_proc is not None:
            self.redis_proc.terminate()
            self.redis_proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self) -> dict[str, str]:
        assert self.settings is not None
        bus = self.settings.bus
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENLFR_BUS__", "OPENLFR_STORE__"))}
        env.update(
            {
                "OPENLFR_DATA_DIR": str(self.settings.data_dir),
                "OPENLFR_BUS__URL": str(bus.url),
                "OPENLFR_BUS__PREFIX": bus.prefix,
                "OPENLFR_BUS__HEARTBEAT_S": str(bus.heartbeat_s),
                "OPENLFR_BUS__LEASE_S": str(bus.lease_s),
                "PYTHONPATH": str(ROOT / "src"),
                **self.extra_env,
            }
        )
        if self.database_url:
            env["OPENLFR_STORE__DATABASE_URL"] = self.database_url
        return env

    def _start(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.tmp / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            proc = subprocess.Popen([*CLI, *args], cwd=ROOT, env=env or self.env(), stdout=out, stderr=out)
        self.procs[name] = proc
        return proc

    def serve(self, port: int, timeout_s: float = 120) -> str:
        """``openlfr serve --no-live`` (the bus's central side runs in it); returns its base URL once up."""
        import urllib.request

        base = f"http://127.0.0.1:{port}"
        env = {
            **self.env(),
            "OPENLFR_SERVER__SECURE_COOKIES": "false",
            "OPENLFR_SERVER__RUN_PURGE": "false",
            "OPENLFR_SERVER__PUBLIC_BASE_URL": base,
        }
        proc = self._start("serve", ["serve", "--no-live", "--host", "127.0.0.1", "--port", str(port)], env)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise SystemExit(f"openlfr serve exited: {self.tail('serve')}")
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as r:
                    if r.status == 200:
                        return base
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"openlfr serve did not come up in {timeout_s:.0f} s: {self.tail('serve')}")

    def central(self) -> subprocess.Popen[bytes]:
        """``openlfr central``: the bus's central side without the web server."""
        return self._start("central", ["central", "--name", "central-bench"])

    def worker(self, name: str, camera: str, clip: Path, *extra: str) -> subprocess.Popen[bytes]:
        """``openlfr worker`` on one paced file source, as on a van: enrolled, with only its credential and
        the bus URL (its own empty data folder, no database URL, no master key)."""
        from openlfr.governance.bus_kit import enrol_worker

        assert self.settings is not None
        credential = self.tmp / f"{name}.credential"
        enrol_worker(self.store, self.settings, "benchmark", name).save(credential)
        env = {k: v for k, v in self.env().items() if not k.startswith("OPENLFR_STORE__")}
        env["OPENLFR_DATA_DIR"] = str(self.tmp / f"{name}-home")
        env["OPENLFR_BUS__CREDENTIAL_FILE"] = str(credential)
        return self._start(name, ["worker", "-d", self.deployment_id, "-s", f"{camera}={clip}", *extra], env)

    def stop(self, name: str, timeout_s: float = 30) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def tail(self, name: str, chars: int = 2000) -> str:
        log = self.logs.get(name)
        return log.read_text(errors="replace")[-chars:] if log and log.exists() else ""


def hamilton() -> Path:
    return data_dir().joinpath(*HAMILTON)
