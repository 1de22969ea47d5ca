"""``openlfr keys rotate``: re-wrap every deployment key under a new master key."""

from __future__ import annotations

import json

import typer

from openlfr.api import roles
from openlfr.cli.app import app, console
from openlfr.cli.governance import ActorOption, JsonOption, actor_of, store_session
from openlfr.governance.master_key import rotate_master_key

keys_app = typer.Typer(help="The master key that wraps every deployment's data keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def rotate(as_: str | None = ActorOption, as_json: bool = JsonOption) -> None:
    """Replace the master key: every deployment key is re-wrapped under a new one (audited, one
    transaction) and the old key file is overwritten, so the old key opens nothing stored here."""
    with store_session() as store:
        count = rotate_master_key(store, actor_of(store, as_, roles.MANAGE_KEYS))
        path = store.keys.master.path
    if as_json:
        console.print_json(json.dumps({"keys_rewrapped": count, "master_key_file": str(path)}))
    else:
        console.print(f"rotated the master key {path}: {count} deployment key(s) re-wrapped")
