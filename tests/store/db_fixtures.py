"""Database fixtures shared by the store, governance (and API) tests: a fresh store on SQLite and PostgreSQL.

``store_settings`` is parametrised over both back ends. The PostgreSQL variant needs
``OPENLFR_TEST_POSTGRES_URL`` (CI sets it); it gives each test its own schema, dropped afterwards, and is
skipped with the reason when the variable is unset. Use from a conftest with
``from tests.store.db_fixtures import *``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from openlfr.config import Settings
from openlfr.store import Store, open_store

POSTGRES_URL = os.environ.get("OPENLFR_TEST_POSTGRES_URL")

__all__ = ["POSTGRES_URL", "Clock", "clock", "store", "store_settings"]


class Clock:
    """A clock tests move forward by hand (retention is proved by advancing time, never by sleeping)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now = self.now + timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    data_dir = tmp_path / "openlfr"
    if request.param == "sqlite":
        yield Settings(data_dir=data_dir)
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL variant: set OPENLFR_TEST_POSTGRES_URL (CI's .ci/run starts one)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield Settings(data_dir=data_dir, store={"database_url": url})
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_settings: Settings) -> Iterator[Store]:
    st = open_store(store_settings)
    try:
        yield st
    finally:
        st.close()
