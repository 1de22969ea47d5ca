"""The command line acts as an authenticated local user, checked against the API's role table; a
self-declared ``--as`` no longer works (issue 14 item 2)."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from openlfr.api.users import create_user
from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.governance.audit import entries
from openlfr.governance.deployments import list_deployments
from openlfr.store import open_store
from openlfr.store.auth_models import Role

runner = CliRunner()
PASSWORD = "correct horse battery staple"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "openlfr")
    monkeypatch.setenv("OPENLFR_DATA_DIR", str(settings.data_dir))
    monkeypatch.delenv("OPENLFR_STORE__DATABASE_URL", raising=False)
    monkeypatch.delenv("OPENLFR_TOKEN", raising=False)
    monkeypatch.setenv("OPENLFR_TEST_PW", PASSWORD)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def users(settings: Settings) -> None:
    store = open_store(settings)
    for role in Role:
        rank = "superintendent" if role == Role.AUTHORISING_OFFICER else None  # may open (issue 25)
        create_user(store, role.value.replace("_", "-"), PASSWORD, role, actor="test setup", rank=rank)
    store.close()


def invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def login(role: Role) -> Result:
    return invoke("login", role.value.replace("_", "-"), "--password-env", "OPENLFR_TEST_PW")


def plan(*extra: str) -> Result:
    now = datetime.now(UTC)
    return invoke(
        "deployment",
        "create",
        "--purpose",
        "wanted offenders",
        "--location",
        "Queen St",
        "--start",
        (now + timedelta(hours=1)).isoformat(),
        "--end",
        (now + timedelta(hours=3)).isoformat(),
        "--officer",
        "Supt. Jones",
        "--camera",
        "cam-1",
        "--threshold",
        "0.6",
        "--override-reason",
        "test",
        "--purpose-category",
        "wanted_offenders",
        "--legal-basis",
        "Common-law policing powers",
        "--officer-role",
        "Superintendent",
        "--phase",
        "trial",
        "--dpia",
        "DPIA-1",
        "--eia",
        "EIA-1",
        "--policy",
        "APD v3",
        "--intelligence-case",
        "wanted offenders seen here",
        "--data-controller",
        "Chief Constable",
        "--contact",
        "lfr@example.police.uk",
        "--short-notice-reason",
        "test: opened at once",
        *extra,
    )


def test_self_declared_identity_is_refused(cli: Settings) -> None:
    """The issue's case: `--as "Bob (auditor)"` planned a deployment and the log recorded Bob."""
    users(cli)
    r = plan("--as", "Bob (auditor)")
    assert r.exit_code == 2 and "--as 'Bob (auditor)' is refused" in r.output, r.output
    login(Role.AUTHORISING_OFFICER)
    r = plan("--as", "Bob (auditor)")
    assert r.exit_code == 2, r.output
    store = open_store(cli)
    assert list_deployments(store) == []
    assert not [e for e in entries(store) if e.actor == "Bob"]
    store.close()


def test_no_login_no_command(cli: Settings) -> None:
    users(cli)
    for args in (
        ("deployment", "list"),
        ("alert", "list"),
        ("audit", "verify"),
        ("audit", "show"),
        ("watchlist", "list", "x"),
        ("run", "--deployment", "x", "--source", "cam-1=clip.mp4"),
    ):
        r = invoke(*args)
        assert r.exit_code == 2 and "not logged in" in r.output, (args, r.output)
    assert plan().exit_code == 2


def test_each_command_checks_the_role_table(cli: Settings, tmp_path: Path) -> None:
    users(cli)
    assert login(Role.AUDITOR).exit_code == 0
    r = plan()
    assert r.exit_code == 2 and "auditor, and that role may not do this" in r.output
    r = invoke("alert", "image", "nope", "--out", str(tmp_path / "x.jpg"))
    assert r.exit_code == 2 and "may not do this" in r.output, r.output
    assert not (tmp_path / "x.jpg").exists()
    assert invoke("audit", "verify").exit_code == 0

    assert login(Role.OPERATOR).exit_code == 0
    r = invoke("alert", "image", "nope", "--out", str(tmp_path / "x.jpg"))
    assert r.exit_code == 2 and "no alert with id 'nope'" in r.output  # past the role check
    r = plan()
    assert r.exit_code == 0, r.output
    dep_id = r.output.split("deployment ")[1].split()[0]
    r = invoke("deployment", "open", dep_id)
    assert r.exit_code == 2 and "may not do this (allowed: authorising officer)" in r.output

    login(Role.AUTHORISING_OFFICER)
    assert invoke("deployment", "signage-in-place", dep_id).exit_code == 0
    r = invoke(
        "deployment", "open", dep_id
    )  # past the role check, stopped by issue 15's empty-watchlist rule
    assert r.exit_code == 2 and "may not do this" not in r.output and "watchlist is empty" in r.output
    store = open_store(cli)
    signed = [e for e in entries(store) if e.action == "deployment.signage_in_place"]
    assert [(e.actor, e.role) for e in signed] == [("authorising-officer", "authorising_officer")]
    created = [e for e in entries(store) if e.action == "deployment.create"]
    assert [(e.actor, e.role) for e in created] == [("operator", "operator")]
    store.close()


def test_login_token_is_private_short_lived_and_revocable(
    cli: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    users(cli)
    bad = invoke("login", "operator", "--password-env", "NOPE_UNSET")
    assert bad.exit_code == 2
    monkeypatch.setenv("WRONG_PW", "not the password at all")
    bad = invoke("login", "operator", "--password-env", "WRONG_PW")
    assert bad.exit_code == 2 and "wrong username or password" in bad.output
    assert login(Role.OPERATOR).exit_code == 0
    token_file = cli.cli_token_file
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert "operator (operator)" in invoke("whoami").output
    # The token itself is not stored: only its digest is in the database.
    store = open_store(cli)
    token = token_file.read_text().strip()
    from sqlalchemy import text

    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM auth_sessions WHERE kind = 'cli'")).scalar() == 1
        assert not s.execute(
            text("SELECT count(*) FROM auth_sessions WHERE token_sha256 = :t"), {"t": token}
        ).scalar()
    store.close()
    assert invoke("logout").exit_code == 0
    assert not token_file.exists()
    monkeypatch.setenv("OPENLFR_TOKEN", token)  # a revoked token does not come back to life
    assert "not logged in" in invoke("whoami").output


def test_a_token_expires(cli: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    users(cli)
    monkeypatch.setenv("OPENLFR_SERVER__CLI_TOKEN_HOURS", str(1 / 3600))  # one second
    get_settings.cache_clear()
    assert login(Role.OPERATOR).exit_code == 0
    time.sleep(1.2)
    r = invoke("deployment", "list")
    assert r.exit_code == 2 and "not logged in (or the login expired)" in r.output


def test_users_are_managed_by_an_admin_after_the_first(cli: Settings) -> None:
    r = invoke("user", "add", "first", "--role", "operator", "--password-env", "OPENLFR_TEST_PW")
    assert r.exit_code == 2 and "the first one must be an admin" in r.output
    r = invoke("user", "add", "chief", "--role", "admin", "--password-env", "OPENLFR_TEST_PW")
    assert r.exit_code == 0, r.output
    r = invoke("user", "add", "mallory", "--role", "admin", "--password-env", "OPENLFR_TEST_PW")
    assert r.exit_code == 2 and "not logged in" in r.output
    assert invoke("login", "chief", "--password-env", "OPENLFR_TEST_PW").exit_code == 0
    r = invoke("user", "add", "op1", "--role", "operator", "--password-env", "OPENLFR_TEST_PW")
    assert r.exit_code == 0, r.output
    assert invoke("login", "op1", "--password-env", "OPENLFR_TEST_PW").exit_code == 0
    r = invoke("user", "add", "op2", "--role", "admin", "--password-env", "OPENLFR_TEST_PW")
    assert r.exit_code == 2 and "may not do this" in r.output
    store = open_store(cli)
    grants = [(e.actor, e.role, e.target) for e in entries(store) if e.action == "user.create"]
    assert grants[1] == ("chief", "admin", "op1") and grants[0][1] == "bootstrap"
    store.close()


def test_the_login_throttle_is_keyed_on_the_uid_not_user(
    cli: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: changing $USER reset the lockout, and any local account could lock the user out of
    `openlfr login`. Failures now count per (username, OS uid)."""
    users(cli)
    monkeypatch.setenv("WRONG_PW", "not the password at all")
    for i in range(cli.server.login_attempts_per_minute):
        monkeypatch.setenv("USER", f"someone-{i}")
        monkeypatch.setenv("LOGNAME", f"someone-{i}")
        assert (
            "wrong username or password" in invoke("login", "operator", "--password-env", "WRONG_PW").output
        )
    monkeypatch.setenv("USER", "a-fresh-name")
    monkeypatch.setenv("LOGNAME", "a-fresh-name")
    r = login(Role.OPERATOR)  # the right password, but this uid is locked out for operator
    assert r.exit_code == 2 and "too many failed logins" in r.output, r.output
    # The same user from another local account (uid) is not locked out by those failures.
    other_uid = os.getuid() + 4242
    monkeypatch.setattr(os, "getuid", lambda: other_uid)
    assert login(Role.OPERATOR).exit_code == 0
    store = open_store(cli)
    addresses = {json.loads(e.details).get("address") for e in entries(store) if e.action.startswith("auth.")}
    store.close()
    assert all("someone" not in (a or "") and "a-fresh-name" not in (a or "") for a in addresses)
    assert any(f"uid{other_uid}" in (a or "") for a in addresses)


def test_an_admin_records_ranks_and_opening_below_the_minimum_is_refused(cli: Settings) -> None:
    """Issue 25: the authorising officer is the user who opens, at or above governance.min_authorising_rank."""
    users(cli)
    login(Role.OPERATOR)
    r = plan()
    assert r.exit_code == 0, r.output
    dep_id = r.output.split("deployment ")[1].split()[0]
    r = invoke("user", "rank", "authorising-officer", "inspector")
    assert r.exit_code == 2 and "may not do this" in r.output  # only an admin records ranks
    login(Role.ADMIN)
    assert "rank: Inspector" in invoke("user", "rank", "authorising-officer", "Inspector").output
    r = invoke("user", "rank", "admin", "chief constable")
    assert r.exit_code == 2 and "nobody records their own rank" in r.output
    r = invoke("user", "rank", "authorising-officer", "general")
    assert r.exit_code == 2 and "unknown rank 'general'" in r.output
    assert "Inspector" in invoke("user", "list").output
    login(Role.AUTHORISING_OFFICER)
    r = invoke("deployment", "open", dep_id)
    out = " ".join(r.output.split())
    assert r.exit_code == 2 and "authorising-officer's rank is Inspector" in out, out
    assert "Superintendent or above (governance.min_authorising_rank)" in out
    store = open_store(cli)
    (row,) = [e for e in entries(store) if e.action == "user.rank"]
    assert (row.actor, row.target, json.loads(row.details)) == (
        "admin",
        "authorising-officer",
        {"from": "superintendent", "to": "inspector"},
    )
    store.close()


def test_audit_show_redacts_alert_details_for_the_admin(cli: Settings) -> None:
    from openlfr.governance.audit import record

    users(cli)
    store = open_store(cli)
    with store.session() as s:
        record(
            s,
            "system",
            "alert.raise",
            target="a1",
            details={"subject_id": "W-007", "camera_id": "gate", "score": 0.61, "threshold": 0.5},
        )
    store.close()
    login(Role.ADMIN)
    shown = invoke("audit", "show", "--json", "--action", "alert.*")
    assert shown.exit_code == 0 and "W-007" not in shown.output and "gate" not in shown.output
    assert json.loads(shown.output)[0]["details"]["threshold"] == 0.5
    assert "W-007" not in invoke("audit", "show").output
    login(Role.AUDITOR)
    assert "W-007" in invoke("audit", "show", "--json", "--action", "alert.*").output
