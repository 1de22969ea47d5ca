"""Settings refuse unknown keys (TOML, environment, arguments) and name the nearest valid one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from openlfr.config import OTHER_ENV_VARS, RetentionSettings, Settings, SettingsError, _check_env
from openlfr.errors import OpenLFRError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def write(text: str) -> Path:
        path = tmp_path / "openlfr.toml"
        path.write_text(text)
        monkeypatch.setenv("OPENLFR_CONFIG", str(path))
        return path

    return write


def test_a_typo_in_the_toml_file_fails_loudly(toml) -> None:  # type: ignore[no-untyped-def]
    # One letter missing: before, this loaded without a word and retention stayed at 720 hours.
    path = toml("[retention]\nalert_retention_hour = 24\n")
    with pytest.raises(SettingsError) as err:
        Settings()
    message = str(err.value)
    assert "'alert_retention_hour'" in message and "did you mean 'alert_retention_hours'" in message
    assert str(path) in message
    assert isinstance(err.value, OpenLFRError)


def test_the_correct_key_still_loads(toml) -> None:  # type: ignore[no-untyped-def]
    toml('[retention]\nalert_retention_hours = 24\n[server]\ncamera_sources = { "cam-1" = "clip.mp4" }\n')
    s = Settings()
    assert s.retention.alert_retention_hours == 24
    assert s.server.camera_sources == {"cam-1": "clip.mp4"}  # a dict's keys are the user's own


def test_an_unknown_section_names_the_nearest(toml) -> None:  # type: ignore[no-untyped-def]
    toml("[retenton]\nalert_retention_hours = 24\n")
    with pytest.raises(SettingsError, match=r"unknown section 'retenton' \(did you mean 'retention'\?\)"):
        Settings()


def test_unknown_keys_in_arguments_and_sections(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"retention: unknown setting 'alert_retention_hour'"):
        Settings(data_dir=tmp_path, retention={"alert_retention_hour": 24})
    with pytest.raises(ValidationError, match="did you mean 'alert_retention_hours'"):
        RetentionSettings(alert_retention_hour=24)  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match=r"unknown setting 'data_dri' \(did you mean 'data_dir'\?\)"):
        Settings(data_dri=tmp_path)  # type: ignore[call-arg]
    # The shared-data path is settable by its name too (before, the name was silently ignored).
    assert Settings(data_dir=tmp_path, dataset_dir=tmp_path / "x").dataset_dir == tmp_path / "x"


def test_a_bad_value_names_where_it_is(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"vision\.threads: Input should be greater than or equal to 1"):
        Settings(data_dir=tmp_path, vision={"threads": 0})


def test_the_shedding_headroom_must_leave_room_in_the_slot(tmp_path: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"shed_headroom_frames \(4\) must be less than live\.max_queue_frames \(4\)"
    ):
        Settings(data_dir=tmp_path, live={"max_queue_frames": 4})
    assert Settings(data_dir=tmp_path, live={"max_queue_frames": 5}).live.shed_headroom_frames == 4


def test_an_unknown_environment_variable_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENLFR_RETENTION__ALERT_RETENTION_HOUR", "24")
    with pytest.raises(SettingsError) as err:
        Settings()
    assert "OPENLFR_RETENTION__ALERT_RETENTION_HOUR" in str(err.value)
    assert "did you mean OPENLFR_RETENTION__ALERT_RETENTION_HOURS" in str(err.value)


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("OPENLFR_RETENTON__ALERT_RETENTION_HOURS", "OPENLFR_RETENTION__ALERT_RETENTION_HOURS"),
        ("OPENLFR_DATADIR", "OPENLFR_DATA_DIR"),
        ("openlfr_vision__thread", "OPENLFR_VISION__THREADS"),
    ],
)
def test_misspelt_environment_variables(monkeypatch: pytest.MonkeyPatch, name: str, meant: str) -> None:
    monkeypatch.setenv(name, "2")
    with pytest.raises(SettingsError, match=f"did you mean {meant}"):
        Settings()


def test_environment_variables_that_are_settings_or_the_projects_own_still_work(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in OTHER_ENV_VARS:
        monkeypatch.setenv(name, "x" if name != "OPENLFR_CONFIG" else str(tmp_path / "none.toml"))
    monkeypatch.setenv("OPENLFR_DATA", str(tmp_path / "faces"))
    monkeypatch.setenv("OPENLFR_RETENTION__ALERT_RETENTION_HOURS", "24")
    monkeypatch.setenv("OPENLFR_SERVER__CAMERA_SOURCES__CAM1", "rtsp://camera")
    monkeypatch.setenv("OPENLFR_SOMETHING_ELSE_ENTIRELY", "not a setting, not near one")
    s = Settings()
    assert s.dataset_dir == tmp_path / "faces" and s.retention.alert_retention_hours == 24
    assert s.server.camera_sources == {"cam1": "rtsp://camera"}


def test_every_openlfr_variable_the_project_names_is_accepted() -> None:
    """A new ``OPENLFR_*`` variable that is not a setting must be listed in ``OTHER_ENV_VARS`` (if it is
    close to a setting's name) or this fails: the settings would refuse it. (This file's deliberate typos
    are not scanned.)"""
    found: set[str] = set()
    for folder in ("src", "tests", "benchmarks", ".ci", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if (
                path.is_file()
                and path.suffix in ("", ".py", ".md", ".toml", ".sh")
                and path != Path(__file__)
            ):
                found |= set(re.findall(r"\bOPENLFR_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(errors="ignore")))
    for name in ("Makefile", "README.md"):
        found |= set(re.findall(r"\bOPENLFR_[A-Z0-9_]*[A-Z0-9]\b", (ROOT / name).read_text()))
    # Misspelt on purpose, as examples of what is refused (config.py's docstring, the CLI error test).
    found -= {
        "OPENLFR_DATADIR",
        "OPENLFR_RETENTON__ALERT_RETENTION_HOURS",
        "OPENLFR_RETENTION__ALERT_RETENTION_HOUR",
    }
    assert {"OPENLFR_DATA", "OPENLFR_CONFIG", "OPENLFR_TEST_POSTGRES_URL", "OPENLFR_DATA_DIR"} <= found
    for name in sorted(found):
        _check_env({name: "1"})


def test_every_section_refuses_unknown_keys(tmp_path: Path) -> None:
    sections = [
        (name, f.annotation)
        for name, f in Settings.model_fields.items()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    ]
    assert len(sections) >= 8
    for name, section in sections:
        with pytest.raises(ValidationError, match="unknown setting 'no_such_key'"):
            section(no_such_key=1)
        with pytest.raises(SettingsError, match=f"{name}: unknown setting 'no_such_key'"):
            Settings(data_dir=tmp_path, **{name: {"no_such_key": 1}})


def test_a_variable_far_from_every_setting_is_left_alone() -> None:
    # A script's own OPENLFR_* variable is not a setting misspelt (TOKEN is not STORE); STORES is.
    _check_env({"OPENLFR_TOKEN": "x", "OPENLFR_TEST_REDIS_URL": "redis://", "OPENLFR_REQUIRE_ALL": "1"})
    with pytest.raises(SettingsError, match="did you mean OPENLFR_STORE"):
        _check_env({"OPENLFR_STORES": "{}"})
