"""``openlfr keys rotate [--reencrypt]``: a new master key, new data key generations, and optionally
everything already stored moved under them."""

from __future__ import annotations

import json

import typer

from openlfr.api import roles
from openlfr.cli.app import app, console
from openlfr.cli.governance import ActorOption, JsonOption, actor_of
from openlfr.cli.store_access import store_session
from openlfr.governance.master_key import reencrypt_all, rotate_master_key

keys_app = typer.Typer(help="The master key that wraps every data key.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("rotate")
def rotate(
    reencrypt: bool = typer.Option(
        False,
        "--reencrypt",
        help="Also re-encrypt every blob and template already stored under the new data key generations "
        "(audited; resumable: run it again after an interruption, what is done is skipped). With "
        "--no-rotate, only this.",
    ),
    no_rotate: bool = typer.Option(
        False,
        "--no-rotate",
        help="With --reencrypt: finish an interrupted re-encryption without rotating again.",
    ),
    as_: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Replace the master key (every data key re-wrapped, audited, one transaction; the old key file is
    overwritten) and start a new generation of every data key, so everything written after it is out of
    reach of the old master key and a copy of the database taken before."""
    if no_rotate and not reencrypt:
        raise typer.BadParameter("--no-rotate only makes sense with --reencrypt", param_hint="--no-rotate")
    with store_session() as store:
        who = actor_of(store, as_, roles.MANAGE_KEYS)
        out: dict[str, object] = {}
        if not no_rotate:
            out.update(rotate_master_key(store, who).as_dict())
        if reencrypt:
            out["reencrypted"] = reencrypt_all(store, who)
        out["master_key_file"] = str(store.keys.master.path)
    if as_json:
        console.print_json(json.dumps(out))
        return
    if not no_rotate:
        console.print(
            f"rotated the master key {out['master_key_file']}: {out['keys_rewrapped']} key(s) re-wrapped, "
            f"{out['data_key_generations_started']} new data key generation(s) started"
        )
    if reencrypt:
        moved = out["reencrypted"]
        assert isinstance(moved, dict)
        console.print(f"re-encrypted {sum(moved.values())} ciphertext(s) in {len(moved)} scope(s)")
