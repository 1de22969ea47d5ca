"""``openlfr rights lookup|export|erase`` and ``openlfr complaint``: the public's side of a deployment
(issue 27), for the force's data protection officer (role ``data_protection``).

A stopped person quotes the reference on their leaflet; nothing else finds their encounter (not a face, not
a name). Each lookup, export and erasure is audited and counted in the published totals.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import app, clean_errors, console, fail
from openlfr.cli.governance import ERRORS, JsonOption, store_session
from openlfr.cli.identity import acting
from openlfr.governance import subject_access

rights_app = typer.Typer(
    help="A stopped person's rights by the reference on their leaflet: look up, export, erase.",
    no_args_is_help=True,
)
app.add_typer(rights_app, name="rights")

ReferenceArg = typer.Argument(..., help="The reference on the person's leaflet, e.g. 3KX7A-9MPRD.")


@rights_app.command("lookup")
def rights_lookup(reference: str = ReferenceArg, as_json: bool = JsonOption) -> None:
    """What is held about the encounter with this reference (audited); shows what an export leaves out."""
    with store_session() as store, clean_errors(*ERRORS):
        enc = subject_access.look_up(store, acting(store, roles.SUBJECT_ACCESS), reference)
    if as_json:
        console.print_json(json.dumps(enc.as_dict()))
        return
    table = Table(show_header=False, title=f"Encounter {enc.reference}")
    for k, v in enc.facts.items():
        if k == "deployment":
            v = f"{v['id']}: {v['location']}, {v['starts_at']} to {v['ends_at']}"
        elif k == "decisions":
            v = "; ".join(f"{d['step']}: {d['outcome']} at {d['at']} ({d['by_role']})" for d in v) or "-"
        table.add_row(k.replace("_", " "), "-" if v is None else str(v))
    for k, v in enc.withheld.items():
        if v:
            table.add_row(f"withheld: {k.replace('_', ' ')}", str(v))
    console.print(table)


@rights_app.command("export")
def rights_export(
    reference: str = ReferenceArg,
    out: Path = typer.Option(..., "--out", help="The zip file to write (response.json and images)."),
) -> None:
    """Write the subject access response for this encounter (audited and counted)."""
    if out.exists():
        fail(f"{out} already exists: choose a new file (a response is never written over another)")
    with store_session() as store, clean_errors(*ERRORS):
        data = subject_access.export_response(store, acting(store, roles.SUBJECT_ACCESS), reference)
    try:
        out.write_bytes(data)
        out.chmod(0o600)
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    console.print(f"subject access response written to {out}", highlight=False)


@rights_app.command("erase")
def rights_erase(
    reference: str = ReferenceArg,
    reason: str = typer.Option(..., help="The request (e.g. your case number for it); audited."),
) -> None:
    """Erase the encounter where the law allows (refused, with the exemption, otherwise). Audited, counted."""
    with store_session() as store, clean_errors(*ERRORS):
        result = subject_access.erase(store, acting(store, roles.SUBJECT_ACCESS), reference, reason)
    console.print(f"{result.reference}: {result.reason}", highlight=False)
    if not result.erased:
        raise typer.Exit(1)
