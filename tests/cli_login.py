"""The command line acts as an authenticated user (issue 14): helpers for tests that run a real ``openlfr``
process on a data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openlfr.api.users import create_user
from openlfr.config import Settings
from openlfr.store import open_store
from openlfr.store.auth_models import Role

CLI_PASSWORD = "correct horse battery staple"
SRC = Path(__file__).resolve().parents[1] / "src"


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a real ``openlfr`` process on this data folder (SQLite)."""
    env = dict(os.environ, OPENLFR_DATA_DIR=str(settings.data_dir), PYTHONPATH=str(SRC), **extra)
    env.pop("OPENLFR_STORE__DATABASE_URL", None)
    env.pop("OPENLFR_TOKEN", None)
    return env


def cli_log_in(settings: Settings, role: Role) -> None:
    """The command line acts as an authenticated user (issue 14): make one with this role and log in (the
    token goes to the data folder, where later commands on it find it)."""
    username = role.value.replace("_", "-")
    store = open_store(settings)
    try:
        # Opening a deployment authorises it: the authorising officer holds the minimum rank (issue 25).
        rank = "superintendent" if role == Role.AUTHORISING_OFFICER else None
        create_user(store, username, CLI_PASSWORD, role, actor="test setup", rank=rank)
    finally:
        store.close()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from openlfr.cli import app; app()",
            "login",
            username,
            "--password-env",
            "PW",
        ],
        env=cli_env(settings, PW=CLI_PASSWORD),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def cli_token(settings: Settings, role: Role) -> str:
    """A command-line token (what ``openlfr login`` keeps) for a user of this role in this data folder, made
    in process (hand it over in ``OPENLFR_TOKEN``); the user is created on first use."""
    from openlfr.api.users import list_users, login

    username = role.value.replace("_", "-")
    store = open_store(settings)
    try:
        if username not in {u.username for u in list_users(store)}:
            create_user(store, username, CLI_PASSWORD, role, actor="test setup")
        token, _ = login(store, username, CLI_PASSWORD, "test", kind="cli")
    finally:
        store.close()
    return token
