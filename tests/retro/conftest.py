"""Retro fixtures: a fresh store (SQLite and PostgreSQL), the real engine, a small custody CSV of LFW images."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from openlfr.retro.saved_index import forget_loaded_indexes
from tests.conftest import require_data
from tests.store.db_fixtures import *  # noqa: F403


@pytest.fixture(autouse=True)
def _fresh_index_cache():  # type: ignore[no-untyped-def]
    forget_loaded_indexes()
    yield
    forget_loaded_indexes()


def lfw_people(min_images: int, people: int) -> list[tuple[str, list[str]]]:
    """LFW identities with at least ``min_images`` images: (identity, relative image paths), stable order."""
    manifest = require_data("lfw", "manifest.csv")
    by_id: dict[str, list[str]] = {}
    for row in csv.DictReader(manifest.open()):
        by_id.setdefault(row["identity"], []).append(row["path"])
    chosen = [(k, sorted(v)) for k, v in sorted(by_id.items()) if len(v) >= min_images]
    return chosen[:people]


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[[list[tuple[str, str]]], Path]:
    def write(rows: list[tuple[str, str]], name: str = "custody.csv") -> Path:
        path = tmp_path / name
        with path.open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["record_id", "image", "date", "date_of_birth"])
            for i, (rec, img) in enumerate(rows):
                w.writerow([rec, img, f"2021-03-{i % 28 + 1:02d}", "1980-05-17" if i % 2 else ""])
        return path

    return write
