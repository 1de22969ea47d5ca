"""Fixtures for the stream bus: a real Redis, a real store with an open deployment, a real publisher process.

Redis: ``OPENLFR_TEST_REDIS_URL`` when set (``make test`` provides one), else a private ``redis-server`` in a
temporary directory on a free port, with an append-only file fsynced on every write so that a stopped and
restarted server keeps its streams. Tests that stop Redis always start their own (:func:`private_redis`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from openlfr.config import BusSettings, Settings
from openlfr.vision import FaceEngine
from tests.live.conftest import ABSENT, MIRANDA, engine, hamilton, open_stored_deployment  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server process of our own, which a test may stop and start again on the same port and files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not Path(REDIS_SERVER).exists():
            pytest.skip("redis-server is not installed (apt install redis-server)")
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get("OPENLFR_TEST_REDIS_URL")
    if url:
        yield url
        return
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def bus_settings(url: str, **over: float) -> BusSettings:
    """Fast beats for tests, and a prefix of the test's own on a possibly shared Redis."""
    values: dict[str, object] = {
        "url": url,
        "prefix": f"t{uuid.uuid4().hex[:10]}",
        "heartbeat_s": 0.2,
        "lease_s": 3.0,
        "claim_idle_s": 1.0,
        "reconnect_max_s": 1.0,
        **over,
    }
    return BusSettings.model_validate(values)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the test's folder) or a PostgreSQL schema of the test's own (``OPENLFR_TEST_POSTGRES_URL``)."""
    if request.param == "sqlite":
        yield None
        return
    url = os.environ.get("OPENLFR_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("PostgreSQL variant: set OPENLFR_TEST_POSTGRES_URL")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def stored_deployment(
    tmp_path: Path,
    bus: BusSettings,
    engine: FaceEngine,  # noqa: F811
    database_url: str | None = None,
) -> tuple[Settings, object, str]:
    settings = Settings(data_dir=tmp_path / "openlfr", bus=bus, store={"database_url": database_url})
    store, dep_id = open_stored_deployment(
        settings, {"lin_manuel_miranda": MIRANDA, **ABSENT}, ["stage"], engine
    )
    return settings, store, dep_id


def child_env(settings: Settings) -> dict[str, str]:
    """The environment a worker or central process gets: the same data directory and bus."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLFR_BUS__")}
    bus = settings.bus
    env.update(
        {
            "OPENLFR_DATA_DIR": str(settings.data_dir),
            "OPENLFR_BUS__URL": str(bus.url),
            "OPENLFR_BUS__PREFIX": bus.prefix,
            "OPENLFR_BUS__HEARTBEAT_S": str(bus.heartbeat_s),
            "OPENLFR_BUS__LEASE_S": str(bus.lease_s),
            "OPENLFR_BUS__CLAIM_IDLE_S": str(bus.claim_idle_s),
            "OPENLFR_BUS__RECONNECT_MAX_S": str(bus.reconnect_max_s),
            "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
        }
    )
    if settings.store.database_url:
        env["OPENLFR_STORE__DATABASE_URL"] = settings.store.database_url
    return env


def start_publisher(
    settings: Settings, dep_id: str, count: int, rate: float, *extra: str
) -> subprocess.Popen[str]:
    """A publisher process (:mod:`tests.bus.publisher`): a worker's gateway raising ``count`` alerts."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bus.publisher", dep_id, str(count), str(rate), *extra],
        cwd=ROOT,
        env=child_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_central(settings: Settings, name: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from openlfr.cli import app; app()", "central", "--name", name],
        cwd=ROOT,
        env=child_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def template_row(index: object, subject_id: str) -> int:
    """The original row (``Candidate.template_index``) of ``subject_id``'s first template in the index."""
    j = index.subjects.index(subject_id)  # type: ignore[attr-defined]
    return int(index._original_row[index._starts[j]])  # type: ignore[attr-defined]
