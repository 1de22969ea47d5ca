"""A force's first day from the command line (issue 27 §6): a fresh data folder with only the shipped
calibration, `watchlist enrol` with every field the CSV has, the reference crowd built by one command, and a
deployment that opens at the default threshold without an override."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from openlfr.api.users import create_user
from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.matching.calibration import load_calibration
from openlfr.matching.reference_crowd import load_reference_crowd
from openlfr.store import open_store
from openlfr.store.auth_models import Role
from tests.conftest import require_data
from tests.governance.faces import lfw_people

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def fresh(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A fresh SQLite data folder: no calibration of its own (the shipped one applies), no crowd."""
    s = Settings(data_dir=tmp_path_factory.mktemp("first-day") / "data")
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(s.data_dir))
    monkeypatch.delenv("OPENLFR_STORE__DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENLFR_TOKEN", raising=False)
    monkeypatch.setenv("OPENLFR_TEST_PW", PASSWORD)
    get_settings.cache_clear()
    store = open_store(s)
    for role in (Role.ADMIN, Role.AUTHORISING_OFFICER, Role.OPERATOR, Role.REVIEWER):
        rank = "superintendent" if role is Role.AUTHORISING_OFFICER else None  # opening authorises (issue 25)
        create_user(store, role.value.replace("_", "-"), PASSWORD, role, actor="test setup", rank=rank)
    store.close()
    yield s
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args])
    return result.exit_code, result.output


def run(*args: str) -> str:
    code, out = invoke(*args)
    assert code == 0, out
    return out


def login_as(role: Role) -> None:
    run("login", role.value.replace("_", "-"), "--password-env", "OPENLFR_TEST_PW")


def plan(*extra: str) -> dict[str, object]:
    now = datetime.now(UTC)
    code, out = invoke(
        "deployment",
        "create",
        "--purpose",
        "people wanted by the courts",
        "--purpose-category",
        "wanted_offenders",
        "--legal-basis",
        "Common-law policing powers",
        "--location",
        "Queen St",
        "--start",
        (now + timedelta(minutes=1)).isoformat(),
        "--end",
        (now + timedelta(hours=2)).isoformat(),
        "--officer",
        "Supt. Jones",
        "--officer-role",
        "Superintendent",
        "--camera",
        "cam-1",
        "--phase",
        "trial",
        "--dpia",
        "DPIA-1",
        "--eia",
        "EIA-1",
        "--policy",
        "APD v3",
        "--intelligence-case",
        "wanted offenders seen on Queen St",
        "--data-controller",
        "Chief Constable",
        "--contact",
        "lfr@example.police.uk",
        "--short-notice-reason",
        "test: opened at once",
        *extra,
        "--json",
    )
    assert code == 0, out
    planned = json.loads(out)
    assert isinstance(planned, dict)
    return planned


def test_first_day_opens_at_the_validated_default(fresh: Settings) -> None:
    crowd_dir = require_data("utkface")
    person, images = lfw_people()[0]
    cal = load_calibration("opencv-zoo", fresh.data_dir)
    assert cal is not None
    checked, unchecked = cal.minimum_for({"normalised"}), cal.minimum_for({None})
    assert checked < unchecked  # otherwise this test proves nothing

    # Without a crowd the default is the minimum an unchecked watchlist needs, and it says why.
    login_as(Role.AUTHORISING_OFFICER)
    before = plan()
    assert before["threshold"] == pytest.approx(unchecked)
    assert "no reference crowd" in str(before["threshold_reason"]) and "calibration crowd --from" in str(
        before["threshold_reason"]
    )

    # One command builds the crowd (the admin's configuration change, audited).
    code, out = invoke("calibration", "crowd", "--from", str(crowd_dir), "--max", "60")
    assert code == 2 and "may not do this" in out
    login_as(Role.ADMIN)
    out = run("calibration", "crowd", "--from", str(crowd_dir), "--max", "60")
    assert "reference crowd of" in out and f"{checked:.3f}" in out
    crowd = load_reference_crowd("opencv-zoo", fresh.data_dir)
    assert crowd is not None and 50 <= crowd.size <= 60 and crowd.rule == "normalised"
    assert str(crowd_dir) not in crowd.source  # no path of the force's machine in what is published

    login_as(Role.AUTHORISING_OFFICER)
    dep = plan()
    dep_id = str(dep["id"])
    assert dep["threshold"] == pytest.approx(checked)
    assert "checked against the reference crowd" in str(dep["threshold_reason"])

    # `watchlist enrol` takes the category's offence seriousness, as the CSV import does.
    login_as(Role.OPERATOR)
    enrol = [
        "watchlist",
        "enrol",
        dep_id,
        str(images[0]),
        "--subject-id",
        "W1",
        "--category",
        "wanted_by_court",
        "--reason",
        "warrant not executed",
        "--image-source",
        "custody",
        "--legal-basis",
        "PACE",
        "--approved-by",
        "Insp. Smith",
        "--expires",
        (datetime.now(UTC) + timedelta(days=1)).date().isoformat(),
        "--name",
        person,
    ]
    code, out = invoke(*enrol)
    assert code == 2 and "offence seriousness is required" in out
    code, out = invoke(*enrol, "--offence-seriousness", "very bad")
    assert code == 2 and "unknown offence seriousness 'very bad'" in out
    out = run(*enrol, "--offence-seriousness", "either_way")
    assert "enrolled 1 subject(s)" in out and "attraction check not run" not in out
    login_as(Role.REVIEWER)
    run("watchlist", "approve", dep_id, "W1")
    login_as(Role.AUTHORISING_OFFICER)
    run("deployment", "signage-in-place", dep_id)
    assert "is open" in run("deployment", "open", dep_id)  # no override reason
    shown = json.loads(run("deployment", "show", dep_id, "--json"))
    assert shown["threshold_override_reason"] is None
    assert shown["validated_min_threshold"] == pytest.approx(checked)
