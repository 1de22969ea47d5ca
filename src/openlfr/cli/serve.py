"""``openlfr serve``, ``openlfr signage DEPLOYMENT_ID``, ``openlfr user add|list|disable``."""

from __future__ import annotations

import getpass
import os
from pathlib import Path

import typer
from rich.table import Table

from openlfr.cli.app import app, clean_errors, console, fail, settings

user_app = typer.Typer(help="Local users and their roles.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@app.command()
def serve(
    host: str | None = typer.Option(None, help="Address to listen on (default: server.host)."),
    port: int | None = typer.Option(None, help="Port (default: server.port)."),
    no_live: bool = typer.Option(False, "--no-live", help="Do not run the live pipeline here."),
) -> None:
    """Serve the API, the officer console and the public pages; run the live pipeline and the purge."""
    import uvicorn

    from openlfr.store import StoreError
    from openlfr.web.app import create_server_app

    s = settings()
    if no_live:
        s.server.run_live = False
    with clean_errors(StoreError):
        application = create_server_app(s)
    console.print(
        f"openlfr serving on http://{host or s.server.host}:{port or s.server.port} "
        f"(public page /public, API docs /docs)"
    )
    if not s.server.secure_cookies:
        console.print("[yellow]secure_cookies is off: use this only behind no network or for tests[/]")
    uvicorn.run(
        application,
        host=host or s.server.host,
        port=port or s.server.port,
        log_level="info",
        proxy_headers=False,
    )


@app.command()
def signage(
    deployment_id: str = typer.Argument(..., help="The deployment the notice is for."),
    out: Path = typer.Option(None, "--out", "-o", help="Output file (.html; default signage-<id>.html)."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print it to PDF with Debian's Chromium."),
) -> None:
    """Write a printable A4 notice for the deployment's zone, with a QR code to its public page."""
    from openlfr.governance.deployments import get_deployment
    from openlfr.governance.errors import GovernanceError
    from openlfr.store import StoreError, open_store
    from openlfr.web.signage import public_url, render_signage

    s = settings()
    with clean_errors(StoreError, GovernanceError):
        store = open_store(s)
        dep = get_deployment(store, deployment_id)
    target = out or Path(f"signage-{deployment_id}.html")
    try:
        target.write_text(render_signage(s, dep), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {target}: {exc.strerror or exc}")
    console.print(f"notice written to {target} (QR code: {public_url(s, dep.id)})")
    if pdf:
        import subprocess

        chromium = os.environ.get("OPENLFR_CHROMIUM", "/usr/bin/chromium")
        pdf_path = target.with_suffix(".pdf")
        result = subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--no-pdf-header-footer",
                f"--print-to-pdf={pdf_path.resolve()}",
                target.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0 or not pdf_path.exists():
            fail(f"chromium could not print the PDF: {result.stderr.strip()[-300:]}")
        console.print(f"PDF written to {pdf_path}")


@user_app.command("add")
def user_add(
    username: str = typer.Argument(..., help="The new user's login name."),
    role: str = typer.Option(
        ...,
        "--role",
        "-r",
        help="admin, authorising_officer, operator, engagement_officer, reviewer or auditor.",
    ),
    display_name: str = typer.Option("", "--name", help="Full name shown in the console and audit log."),
    rank: str | None = typer.Option(
        None,
        "--rank",
        help="Police rank (e.g. superintendent); opening a deployment needs governance.min_authorising_rank.",
    ),
    password_env: str | None = typer.Option(
        None, "--password-env", help="Read the password from this environment variable (else prompt)."
    ),
) -> None:
    """Create a local user (the password is hashed with argon2id). Needs an admin logged in; only the very
    first user of a new store, who must be an admin, is created without one (bootstrap, audited under the
    OS account)."""
    from openlfr.api import roles
    from openlfr.api.users import UserError, create_user, list_users, parse_role
    from openlfr.cli.identity import acting, os_account
    from openlfr.governance import audit
    from openlfr.store import StoreError, open_store
    from openlfr.store.auth_models import Role

    with clean_errors(StoreError, UserError):
        store = open_store(settings())
        if list_users(store):
            actor = acting(store, roles.MANAGE_USERS)
        elif parse_role(role) != Role.ADMIN:
            fail("this store has no user yet: the first one must be an admin (--role admin)")
        else:
            actor = audit.Actor(os_account(), "bootstrap")
    if password_env:
        password = os.environ.get(password_env)
        if not password:
            fail(f"environment variable {password_env} is empty or not set")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            fail("the two passwords differ")
    with clean_errors(StoreError, UserError):
        user = create_user(store, username, password, role, display_name, actor=actor, rank=rank)
    console.print(f"user {user.username} added as {user.role.replace('_', ' ')}")


@user_app.command("list")
def user_list() -> None:
    """The local users and their roles."""
    from openlfr.api import roles
    from openlfr.api.users import list_users
    from openlfr.cli.identity import acting
    from openlfr.store import StoreError, open_store

    with clean_errors(StoreError):
        store = open_store(settings())
        acting(store, roles.MANAGE_USERS)
    from openlfr.ranks import rank_label

    table = Table("username", "name", "role", "rank", "active")
    for u in list_users(store):
        table.add_row(
            u.username, u.display_name, u.role, rank_label(u.rank) or "-", "yes" if u.active else "no"
        )
    console.print(table)


@user_app.command("rank")
def user_rank(
    username: str = typer.Argument(..., help="The user whose rank is recorded."),
    rank: str = typer.Argument(
        ..., help="A UK police rank (e.g. superintendent, chief_inspector), or 'none' to clear it."
    ),
) -> None:
    """Record a user's police rank (admins only; audited). Opening a deployment authorises it, and needs at
    least governance.min_authorising_rank."""
    from openlfr.api import roles
    from openlfr.api.users import UserError, set_rank
    from openlfr.cli.identity import acting
    from openlfr.ranks import rank_label
    from openlfr.store import StoreError, open_store

    with clean_errors(StoreError, UserError):
        store = open_store(settings())
        key = set_rank(
            store,
            username,
            None if rank.strip().lower() == "none" else rank,
            actor=acting(store, roles.MANAGE_USERS),
        )
    console.print(f"user {username} rank: {rank_label(key) or 'none'}", highlight=False)


@user_app.command("disable")
def user_disable(
    username: str = typer.Argument(..., help="The user to disable (their sessions and tokens stop working)."),
) -> None:
    """Disable an account and revoke its sessions and tokens."""
    from openlfr.api import roles
    from openlfr.api.users import UserError, set_active
    from openlfr.cli.identity import acting
    from openlfr.store import StoreError, open_store

    with clean_errors(StoreError, UserError):
        store = open_store(settings())
        set_active(store, username, False, actor=acting(store, roles.MANAGE_USERS))
    console.print(f"user {username} disabled")
