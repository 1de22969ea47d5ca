"""The CLI's errors: an openlfr error is one line naming the problem (exit 2); anything else is a bug,
reported as an internal error with its traceback in the error log (exit 70), never as a one-liner that
reads like a problem with the user's input."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openlfr.api.users import create_user
from openlfr.cli import app
from openlfr.cli import governance_deployments as cli_governance_deployments
from openlfr.cli.app import INTERNAL_ERROR_EXIT
from openlfr.config import get_settings
from openlfr.store import open_store
from openlfr.store.auth_models import Role

SRC = Path(__file__).resolve().parents[2] / "src"
runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(tmp_path / "openlfr"))
    monkeypatch.delenv("OPENLFR_STORE__DATABASE_URL", raising=False)
    monkeypatch.setenv("OPENLFR_CONFIG", str(tmp_path / "no.toml"))
    monkeypatch.delenv("OPENLFR_TOKEN", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "openlfr"
    get_settings.cache_clear()


def log_in_as_planner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line acts as an authenticated user (issue 14): an authorising officer, logged in."""
    store = open_store(get_settings())
    try:
        create_user(store, "planner", PASSWORD, Role.AUTHORISING_OFFICER, actor="test setup")
    finally:
        store.close()
    monkeypatch.setenv("OPENLFR_TEST_PW", PASSWORD)
    done = runner.invoke(app, ["login", "planner", "--password-env", "OPENLFR_TEST_PW"])
    assert done.exit_code == 0, done.output


def openlfr(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process."""
    return subprocess.run(
        [sys.executable, "-c", "from openlfr.cli import app; app()", *args],
        env={**os.environ, "PYTHONPATH": str(SRC), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_misspelt_setting_stops_the_command_with_one_line(tmp_path: Path) -> None:
    env = {"OPENLFR_DATA_DIR": str(tmp_path / "d"), "OPENLFR_CONFIG": str(tmp_path / "openlfr.toml")}
    (tmp_path / "openlfr.toml").write_text("[retention]\nalert_retention_hour = 24\n")
    done = openlfr("deployment", "list", env=env)
    assert done.returncode == 2, done.stderr
    assert "error:" in done.stderr and "did you mean 'alert_retention_hours'" in done.stderr
    assert "Traceback" not in done.stderr
    (tmp_path / "openlfr.toml").unlink()
    done = openlfr("deployment", "list", env={**env, "OPENLFR_RETENTION__ALERT_RETENTION_HOUR": "24"})
    assert done.returncode == 2 and "OPENLFR_RETENTION__ALERT_RETENTION_HOURS" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    done = openlfr("deployment", "list", env=env)  # the settings load: it goes on to ask for a login
    assert done.returncode == 2 and "not logged in" in done.stderr, done.stderr


def test_a_bad_setting_value_is_one_line_not_a_traceback(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLFR_VISION__THREADS", "0")
    result = runner.invoke(app, ["deployment", "list"])
    assert result.exit_code == 2, result.output
    assert "vision.threads: Input should be greater than or equal to 1" in result.output


def _create_args() -> list[str]:
    now = datetime.now(UTC)
    return [
        "deployment",
        "create",
        "--purpose",
        "wanted offenders",
        "--location",
        "Queen St",
        "--start",
        (now + timedelta(hours=1)).isoformat(),
        "--end",
        (now + timedelta(hours=2)).isoformat(),
        "--officer",
        "Supt. Jones",
        "--camera",
        "cam-1",
        "--threshold",
        "0.5",
        "--override-reason",
        "test",
        "--purpose-category",
        "wanted_offenders",
        "--legal-basis",
        "Common-law policing powers",
        "--officer-role",
        "Superintendent",
    ]


def test_a_bug_is_an_internal_error_with_its_traceback_in_the_log(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy(*_args: object, **_kw: object) -> None:
        raise ValueError("threshold must be a float")  # reads like bad input, but it is a bug

    log_in_as_planner(monkeypatch)
    monkeypatch.setattr(cli_governance_deployments, "create_deployment", buggy)
    result = runner.invoke(app, _create_args())
    # Before, `deployment create` caught every ValueError: exit 2, "error: threshold must be a float".
    assert result.exit_code == INTERNAL_ERROR_EXIT, result.output
    assert "internal error" in result.output and "ValueError" in result.output
    assert "error: threshold must be a float" not in result.output
    log = data_dir / "logs" / "errors.log"
    assert str(log) in " ".join(result.output.split())
    text = log.read_text()
    assert "Traceback" in text and "threshold must be a float" in text and "in buggy" in text


def test_openlfr_errors_from_any_command_are_one_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_in_as_planner(monkeypatch)
    result = runner.invoke(app, [*_create_args(), "--as", " "])
    assert result.exit_code == 2, result.output
    assert "error: --as ' ' is refused" in result.output
    result = runner.invoke(app, ["deployment", "show", "no-such-id"])
    assert result.exit_code == 2 and "no deployment with id 'no-such-id'" in result.output, result.output
    assert not (data_dir / "logs").exists()
