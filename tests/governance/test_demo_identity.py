"""``openlfr demo`` acts through its own local users, like anyone else (issue 14 item 2)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.governance.audit import entries, verify
from openlfr.store import open_store
from tests.conftest import DATA, require_data


def test_the_demo_provisions_its_users_and_leaves_the_operator_logged_in(tmp_path: Path) -> None:
    require_data("videos", "face_recognition__short_hamilton_clip.mp4")
    env = {"OPENLFR_DATA_DIR": str(tmp_path / "demo"), "OPENLFR_DATA": str(DATA), "OPENLFR_TOKEN": ""}
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        # A small reference crowd: the demo's users are the point here, not its crowd's size (2,000 by
        # default, which tests/cli/test_demo_sample.py's run with the shared data takes the same path as).
        r = runner.invoke(
            app, ["demo", "--out", str(tmp_path / "record"), "--reference-crowd", "200"], env=env
        )
        assert r.exit_code == 0, r.output
        assert "demo-operator (operator)" in runner.invoke(app, ["whoami"], env=env).output
        # The operator may not verify the audit log; the demo auditor may.
        denied = runner.invoke(app, ["audit", "verify"], env=env)
        assert denied.exit_code == 2 and "may not do this" in denied.output
    finally:
        get_settings.cache_clear()
    settings = Settings(data_dir=tmp_path / "demo")
    for private in (settings.cli_token_file, settings.data_dir / "demo-users.txt", settings.audit_key_file):
        assert stat.S_IMODE(os.stat(private).st_mode) == 0o600, private
    store = open_store(settings)
    rows = entries(store)
    by_action = {e.action: (e.actor, e.role) for e in rows}
    assert by_action["deployment.create"] == ("demo-inspector", "authorising_officer")
    assert by_action["deployment.open"] == ("demo-superintendent", "authorising_officer")
    assert by_action["watchlist.approve"] == ("demo-reviewer", "reviewer")
    assert by_action["audit.verify"] == ("demo-auditor", "auditor")
    assert verify(store).ok
    # One user per role, admin and engagement officer included, so every role can be tried on the demo.
    from openlfr.api.users import list_users
    from openlfr.store.auth_models import Role

    assert {u.role for u in list_users(store)} >= set(Role)
    passwords = (settings.data_dir / "demo-users.txt").read_text().split()
    assert "demo-admin" in passwords and "demo-engagement-officer" in passwords
    store.close()
