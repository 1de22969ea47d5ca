"""Issue 25 item 1, rule 8: ``openlfr run --deployment`` names the logged-in officer. It writes
``deployment.scan_start`` and ``deployment.scan_stop``, and every row of the run (``watchlist.load``,
``alert.raise``) names that officer and carries the scan's id; nothing of it is ``system``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from openlfr.cli import app
from openlfr.config import Settings, get_settings
from openlfr.governance.audit import entries, verify
from openlfr.store import open_store
from openlfr.store.auth_models import Role
from openlfr.vision import FaceEngine
from tests.cli_login import cli_token
from tests.live.conftest import MIRANDA, open_stored_deployment


def test_run_writes_scan_rows_naming_the_officer(
    tmp_path: Path, settings: Settings, engine: FaceEngine, data_dir: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    store, dep_id = open_stored_deployment(settings, {"lin_manuel_miranda": MIRANDA}, ["door"], engine)
    store.close()  # type: ignore[attr-defined]
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        shutil.copy(data_dir.joinpath(*MIRANDA), frames / f"{i:02d}.png")
    token = cli_token(settings, Role.OPERATOR)
    monkeypatch.setenv("USER", "not-the-officer")  # who scanned comes from the login, never from $USER
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(
            app,
            ["run", "-d", dep_id, "-s", f"door={frames}", "--fast", "--json"],
            env={
                "OPENLFR_DATA_DIR": str(settings.data_dir),
                "OPENLFR_TOKEN": token,
                "OPENLFR_LIVE__FOLDER_FPS": "4",
            },
        )
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    store = open_store(settings)
    try:
        rows = [e for e in entries(store, deployment_id=dep_id) if e.seq > 0]
        run_rows = rows[next(i for i, e in enumerate(rows) if e.action == "deployment.scan_start") :]
        actions = [e.action for e in run_rows]
        assert actions[0] == "deployment.scan_start" and actions[-1] == "deployment.scan_stop", actions
        assert "watchlist.load" in actions and "alert.raise" in actions, actions
        scan_id = json.loads(run_rows[0].details)["scan_id"]
        for e in run_rows:
            assert (e.actor, e.role) == ("operator", "operator"), e.action
            assert json.loads(e.details)["scan_id"] == scan_id, e.action
        stop = json.loads(run_rows[-1].details)
        assert stop["alerts"] == 1 and stop["stopped"] == "sources ended"
        assert str(frames) in json.loads(run_rows[0].details)["sources"][0]
        assert not any(e.actor == "system" for e in run_rows)
        assert verify(store).ok
    finally:
        store.close()


def test_sigterm_still_writes_scan_stop(hamilton: Path, settings: Settings, engine: FaceEngine) -> None:
    """A service manager stops a run with SIGTERM: the scan is closed in the log like Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.cli_login import cli_env

    store, dep_id = open_stored_deployment(settings, {"lin_manuel_miranda": MIRANDA}, ["stage"], engine)
    store.close()  # type: ignore[attr-defined]
    env = {**cli_env(settings), "OPENLFR_TOKEN": cli_token(settings, Role.OPERATOR)}
    cmd = [sys.executable, "-c", "from openlfr.cli import app; app()", "run", "-d", dep_id]
    proc = subprocess.Popen(
        [*cmd, "-s", f"stage={hamilton}", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        loaded = False
        while time.monotonic() < deadline and proc.poll() is None and not loaded:
            time.sleep(0.5)
            check = open_store(settings)
            loaded = any(e.action == "watchlist.load" for e in entries(check, deployment_id=dep_id))
            check.close()
        assert loaded and proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    store = open_store(settings)
    try:
        (stop,) = [e for e in entries(store, deployment_id=dep_id) if e.action == "deployment.scan_stop"]
        assert json.loads(stop.details)["stopped"].startswith("interrupted (Ctrl-C or SIGTERM)")
        assert stop.actor == "operator"
    finally:
        store.close()


def test_a_sigterm_that_lands_in_an_import_still_reads_as_interrupted() -> None:
    """Under load the SIGTERM above reached the run while OpenCV was being imported, and OpenCV turned the
    interruption into ``ImportError: initialization failed``: the scan_stop then said "failed to start".
    The run now asks :func:`_interrupted`, which knows a signal came (the handler remembers it) and looks
    through the exception's context."""
    import os
    import signal
    import time

    import pytest

    from openlfr.cli import live as cli_live

    # An extension that replaces the KeyboardInterrupt with its own error keeps it as the context.
    with pytest.raises(ImportError) as caught:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise ImportError("initialization failed")  # noqa: B904 - as the extension does
    cli_live._stop_signalled.clear()
    assert cli_live._interrupted(caught.value)
    bare = ImportError("initialization failed")
    assert not cli_live._interrupted(bare)  # a real failure to start stays one
    # One that drops the context: the real signal, through the run's handler, is remembered.
    previous = signal.signal(signal.SIGTERM, cli_live._interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler runs at the next bytecode; never waits this long
    finally:
        signal.signal(signal.SIGTERM, previous)
    try:
        assert cli_live._interrupted(bare)
    finally:
        cli_live._stop_signalled.clear()
