"""Shared fixtures: the real data folder, isolated settings, the real engines (loaded once), the generated
demo sample, and the services ``make test`` provides (scripts/test-services.sh)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import pytest

from openlfr.config import Settings
from tests.require_all import (  # the skip-is-an-error plugin, loaded with this conftest
    DATA_MISSING,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
)

if TYPE_CHECKING:
    from openlfr.cli.demo_sample import DemoSample

__all__ = [
    "pytest_runtest_logreport",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
]

DATA = Path(
    os.environ.get("OPENLFR_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
).resolve()
REDIS_URL = os.environ.get("OPENLFR_TEST_REDIS_URL")


def require_data(*parts: str) -> Path:
    """A path inside the shared data folder, or skip the test saying what is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{DATA_MISSING} at {path} (set OPENLFR_DATA)")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return require_data()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data directory (embedded SQLite) for one test."""
    return Settings(data_dir=tmp_path / "openlfr")


@pytest.fixture(scope="session")
def engine_factory():  # type: ignore[no-untyped-def]
    from openlfr.vision import load_engine

    def make(pack: str = "opencv-zoo"):  # type: ignore[no-untyped-def]
        return load_engine(pack, Settings())

    return make


def _scratch(prefix: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder


@lru_cache(maxsize=1)
def demo_reference() -> Path:
    """The generated demo sample's enrolment photo (public domain; no shared data needed), written once."""
    from openlfr.cli.demo_sample import astronaut, reference_photo

    path = _scratch("openlfr-demo-ref-") / "reference-DEMO-0001.png"
    assert cv2.imwrite(str(path), reference_photo(astronaut()))
    return path


@lru_cache(maxsize=1)
def generated_demo_sample() -> DemoSample:
    """The sample ``openlfr demo`` generates without shared data (photo and clip), built once per run."""
    from openlfr.cli.demo_sample import generated_sample

    return generated_sample(_scratch("openlfr-demo-sample-"))


@pytest.fixture(scope="session")
def demo_sample() -> DemoSample:
    return generated_demo_sample()


@pytest.fixture
def redis_url() -> str:
    """The throwaway Redis ``make test`` starts (``OPENLFR_TEST_REDIS_URL``), or skip saying so."""
    if not REDIS_URL:
        pytest.skip("Redis: set OPENLFR_TEST_REDIS_URL (make test and .ci/run start one)")
    return REDIS_URL


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium through Playwright, one for the whole session: a second sync Playwright cannot
    start while one is running, so every browser test in every folder shares this one."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
