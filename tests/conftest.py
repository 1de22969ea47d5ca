"""Shared fixtures: the real data folder, isolated settings, and the real engines (loaded once)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from openlfr.config import Settings

DATA = Path(
    os.environ.get("OPENLFR_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
).resolve()


def require_data(*parts: str) -> Path:
    """A path inside the shared data folder, or skip the test saying what is missing."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared face data not found at {path} (set OPENLFR_DATA)")
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
