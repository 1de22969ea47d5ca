"""The services scripts/test-services.sh provides to the suite (make test, .ci/run) really answer."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sqlalchemy import create_engine, text

from tests.store.db_fixtures import POSTGRES_URL

CHROMIUM = Path("/usr/bin/chromium")


def test_postgres_answers() -> None:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL: set OPENLFR_TEST_POSTGRES_URL (make test and .ci/run start one)")
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            assert "PostgreSQL" in conn.execute(text("SELECT version()")).scalar_one()
    finally:
        engine.dispose()


def test_redis_answers(redis_url: str) -> None:
    url = urlparse(redis_url)
    assert url.scheme == "redis" and url.hostname
    with socket.create_connection((url.hostname, url.port or 6379), timeout=5) as s:
        s.sendall(b"PING\r\n")
        assert s.recv(64) == b"+PONG\r\n"


def test_chromium_is_installed() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Chromium" in out.stdout
