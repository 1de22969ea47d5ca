"""The skip-is-an-error plugin (tests/require_all.py), run on a tiny suite in its own pytest process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SUITE = """
import pytest

def test_runs():
    assert True

def test_needs_data():
    pytest.skip("shared face data not found at /nowhere/lfw (set OPENLFR_DATA)")

@pytest.mark.xfail(reason="known", strict=True)
def test_known_failure():
    assert False
"""


def _pytest(folder: Path, require_all: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENLFR_REQUIRE_ALL"}
    if require_all is not None:
        env["OPENLFR_REQUIRE_ALL"] = require_all
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.require_all", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_skip_fails_the_run_only_when_everything_is_required(tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text(SUITE)
    relaxed = _pytest(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "test_tiny.py: 1 test(s) skipped" in relaxed.stdout  # named as a suite that needs OPENLFR_DATA
    strict = _pytest(tmp_path, "1")
    assert strict.returncode == 1, strict.stdout
    assert "SKIPPED test_tiny.py::test_needs_data" in strict.stdout
    assert "test_known_failure" not in strict.stdout.split("OPENLFR_REQUIRE_ALL=1")[-1]  # an xfail ran
    assert _pytest(tmp_path, "0").returncode == 0


def test_a_run_with_nothing_skipped_passes_and_an_empty_run_fails(tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text(SUITE)
    assert _pytest(tmp_path, "1", "-k", "runs or known").returncode == 0
    (tmp_path / "test_tiny.py").unlink()
    (tmp_path / "test_empty.py").write_text("X = 1\n")
    assert _pytest(tmp_path, "1").returncode == 5  # pytest's "no tests ran": non-zero, so make test fails
