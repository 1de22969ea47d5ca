"""A real server (uvicorn on 127.0.0.1, a free port, in a thread) and Debian's Chromium via Playwright."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import uvicorn

from openlfr.store import Store, open_store
from openlfr.web.app import create_server_app
from tests.api.conftest import Seed, add_users, seed, server_settings, world  # noqa: F401  (fixtures)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    store: Store
    app: object


def _serve(tmp_path: Path, seed_dir: Path | None = None) -> Iterator[LiveServer]:
    port = free_port()
    settings = server_settings(tmp_path, public_base_url=f"http://127.0.0.1:{port}")
    if seed_dir is not None:
        shutil.copytree(seed_dir, settings.data_dir)
    store = open_store(settings)
    if seed_dir is None:
        add_users(store)
    app = create_server_app(settings, store=store, background=[])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", store, app)
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    yield from _serve(tmp_path)


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory: pytest.TempPathFactory, seed: Seed) -> Iterator[LiveServer]:  # noqa: F811
    """One server per test module on a copy of the API suites' seed: every role's user, an open deployment
    with an approved entry and one alert (tests raise their own alerts on it, so they stay independent)."""
    yield from _serve(tmp_path_factory.mktemp("web-seeded"), seed.data_dir)


def decode_qr(png: bytes) -> str:
    """The text of the QR code in a screenshot, as OpenCV's two offline decoders read it ("" if neither).

    OpenCV's classic decoder misses about 2% of codes that encode a random port and deployment id (6 of 300
    raw codes for such URLs); its ArUco-based decoder read every one of 1,800 (the same codes at three
    sizes). A phone reads either; the test checks what the code says, not one decoder's luck."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        decoded, _points, _ = detector.detectAndDecode(image)
        if decoded:
            return str(decoded)
    return ""


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page, base: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
