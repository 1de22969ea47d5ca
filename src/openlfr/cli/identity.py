"""Who is at the keyboard: ``openlfr login|logout|whoami``, and the role check every command makes.

The command line acts as a local user, authenticated as the console's users are: ``openlfr login USERNAME``
checks the password (throttled and audited like any login) and keeps a short-lived token
(``server.cli_token_hours``) in ``settings.cli_token_file`` (mode 0600, under the user's data folder).
Every command resolves that token and checks the user's role against :mod:`openlfr.api.roles`, the table
the API and the pages read; the audit log names the user and their role. Scripts log in once with
``--password-env VAR``, or hand a token over in ``OPENLFR_TOKEN``. ``--as NAME`` is refused: nobody
declares who they are.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Sequence
from pathlib import Path

import typer

from openlfr.api.users import Principal, resolve
from openlfr.cli.app import app, console, fail, settings
from openlfr.cli.store_access import store_session
from openlfr.config import Settings
from openlfr.governance.audit import Actor
from openlfr.store import Store
from openlfr.store.auth_models import Role

TOKEN_ENV = "OPENLFR_TOKEN"
TOKEN_KIND = "cli"

# Kept (hidden) so that an old script's --as fails with the reason instead of "no such option".
DeclaredActorOption = typer.Option(None, "--as", hidden=True, help="Refused: log in with `openlfr login`.")


def os_account() -> str:
    """This process's OS account, from its user id: never from ``$USER`` or ``$LOGNAME``, which whoever runs
    the command sets as they please."""
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def login_address() -> str:
    """Where a command-line login comes from, for throttling and the audit log: the OS user id (and its
    account name) on this host (issue 25).

    Failed logins are counted per (username, address), as the API counts them per (username, IP address).
    Keyed on the uid, not ``$USER``: changing an environment variable does not reset a lockout; and another
    local account guessing ``chief``'s password locks only (chief, its own uid), never chief's own logins
    from chief's uid. One uid failing for many usernames is throttled like one IP address
    (``server.login_attempts_per_address``)."""
    return f"cli:uid{os.getuid()}({os_account()})@{socket.gethostname()}"[:64]


def read_token(s: Settings) -> str | None:
    """The token from ``OPENLFR_TOKEN``, else from the token file; None when there is neither."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    if env:
        return env
    try:
        return s.cli_token_file.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def save_token(s: Settings, token: str) -> Path:
    """Write the token readable by this OS account only (0600 whatever the umask)."""
    path = s.cli_token_file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)
    return path


def logged_in(store: Store) -> Principal | None:
    """The user whose live token this command carries, or None."""
    token = read_token(store.settings)
    return resolve(store, token, TOKEN_KIND) if token else None


def refuse_declared(declared: str | None) -> None:
    if declared:
        fail(
            f"--as {declared!r} is refused: nobody declares who they are. Log in as yourself with "
            "`openlfr login USERNAME`; the audit log names the logged-in user and their role"
        )


def acting(store: Store, allowed: Sequence[Role], declared: str | None = None) -> Actor:
    """The logged-in user as an audit actor, if their role is among ``allowed``; a clear error otherwise."""
    refuse_declared(declared)
    principal = logged_in(store)
    if principal is None:
        fail(
            "not logged in (or the login expired): run `openlfr login USERNAME` first; the command line acts "
            "as a local user, checked against the same role table as the console"
        )
    if principal.role not in allowed:
        fail(
            f"{principal.username} is logged in as {principal.role.label}, and that role may not do this "
            f"(allowed: {', '.join(sorted(r.label for r in allowed))})"
        )
    return Actor(principal.username, principal.role.value)


@app.command("login")
def login(
    username: str = typer.Argument(..., help="Your local user (created with `openlfr user add`)."),
    password_env: str | None = typer.Option(
        None, "--password-env", help="Read the password from this environment variable (else prompt)."
    ),
) -> None:
    """Log in: later commands act as this user, within their role, until the token expires."""
    from fastapi import HTTPException

    from openlfr.api.auth import do_login

    if password_env:
        password = os.environ.get(password_env)
        if not password:
            fail(f"environment variable {password_env} is empty or not set")
    else:
        password = getpass.getpass("password: ")
    s = settings()
    with store_session() as store:
        try:
            token, principal = do_login(store, username, password, login_address(), TOKEN_KIND)
        except HTTPException as exc:
            fail(f"login refused: {exc.detail}")
    path = save_token(s, token)
    console.print(
        f"logged in as {principal.username} ({principal.role.label}) for {s.server.cli_token_hours:g} h; "
        f"token kept in {path}",
        highlight=False,
    )


@app.command("logout")
def logout() -> None:
    """Revoke this command line's token and delete it."""
    from openlfr.api.users import logout as revoke
    from openlfr.governance import audit

    s = settings()
    with store_session() as store:
        principal = logged_in(store)
        if principal is not None:
            revoke(store, principal.session_id)
            with store.session() as session:
                audit.record(session, Actor(principal.username, principal.role.value), "auth.logout")
    s.cli_token_file.unlink(missing_ok=True)
    console.print("logged out")


@app.command("whoami")
def whoami() -> None:
    """The user this command line acts as."""

    with store_session() as store:
        principal = logged_in(store)
    if principal is None:
        fail("not logged in: run `openlfr login USERNAME`")
    console.print(f"{principal.username} ({principal.role.label})", highlight=False)
