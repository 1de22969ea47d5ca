"""``openlfr rights lookup|export|erase`` and ``openlfr complaint``: the public's side of a deployment
(issue 27), for the force's data protection officer (role ``data_protection``).

A stopped person quotes the reference on their leaflet; nothing else finds their encounter (not a face, not
a name). Each lookup, export and erasure is audited and counted in the published totals.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import app, clean_errors, console, fail
from openlfr.cli.governance import JsonOption, deployment_app
from openlfr.cli.identity import acting
from openlfr.cli.store_access import ERRORS, store_session
from openlfr.governance import complaints as complaint_svc
from openlfr.governance import subject_access
from openlfr.governance.documents import DOCUMENT_KINDS, store_document

complaint_app = typer.Typer(help="The complaints register (no complainant's details).", no_args_is_help=True)
app.add_typer(complaint_app, name="complaint")
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
        # Readable by this account only from the first byte, and never over another file.
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except FileExistsError:
        fail(f"{out} already exists: choose a new file (a response is never written over another)")
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


@complaint_app.command("add")
def complaint_add(
    received: str = typer.Option(..., help="When it was received, ISO time with zone (2030-06-01T09:00Z)."),
    category: str = typer.Option(
        ...,
        help="By key or words: "
        + "; ".join(f"{k} ({v})" for k, v in complaint_svc.COMPLAINT_CATEGORIES.items())
        + ".",
    ),
    deployment_id: str | None = typer.Option(None, "--deployment", help="The deployment it is about."),
    reference: str | None = typer.Option(
        None,
        "--reference",
        help="The stopped person's reference, if the complaint quotes one (never published).",
    ),
    external_ref: str | None = typer.Option(
        None,
        "--external-ref",
        help="Your complaints system's reference (internal; no complainant's details here).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Enter a complaint in the register (audited)."""
    from openlfr.cli.governance import when

    with store_session() as store, clean_errors(*ERRORS):
        c = complaint_svc.record_complaint(
            store,
            acting(store, roles.RECORD_COMPLAINTS),
            received_at=when(received, "--received"),
            category=category,
            deployment_id=deployment_id,
            reference=reference,
            external_ref=external_ref,
        )
    if as_json:
        console.print_json(json.dumps(c.as_dict()))
    else:
        console.print(f"complaint [bold]{c.id}[/] recorded: {c.category_label}", highlight=False)


@complaint_app.command("outcome")
def complaint_outcome(
    complaint_id: str = typer.Argument(..., help="The complaint's id (from `openlfr complaint list`)."),
    outcome: str = typer.Argument(
        ..., help="; ".join(f"{k} ({v})" for k, v in complaint_svc.COMPLAINT_OUTCOMES.items())
    ),
    at: str | None = typer.Option(None, help="When it was decided (default now), ISO time with zone."),
) -> None:
    """Record how a complaint ended (once; audited)."""
    from openlfr.cli.governance import when

    with store_session() as store, clean_errors(*ERRORS):
        c = complaint_svc.record_complaint_outcome(
            store,
            acting(store, roles.RECORD_COMPLAINTS),
            complaint_id,
            outcome,
            at=when(at, "--at") if at else None,
        )
    console.print(f"complaint [bold]{c.id}[/]: {c.outcome}", highlight=False)


@complaint_app.command("list")
def complaint_list(
    open_only: bool = typer.Option(False, "--open", help="Only those without an outcome."),
    as_json: bool = JsonOption,
) -> None:
    """The register, oldest first."""
    with store_session() as store:
        acting(store, roles.VIEW_COMPLAINTS)
        found = complaint_svc.list_complaints(store, open_only=open_only)
    if as_json:
        console.print_json(json.dumps([c.as_dict() for c in found]))
        return
    table = Table(title=f"Complaints ({len(found)})")
    for col in ("id", "received", "category", "deployment", "reference", "outcome"):
        table.add_column(col)
    for c in found:
        table.add_row(
            c.id,
            c.received_at.isoformat()[:16],
            c.category_label,
            c.deployment_id or "",
            c.reference or "",
            c.outcome or "open",
        )
    console.print(table)


@deployment_app.command("document")
def deployment_document(
    deployment_id: str = typer.Argument(..., help="The deployment the document belongs to."),
    file: Path = typer.Argument(..., help="The document: a PDF, or an HTML page without scripts."),
    kind: str = typer.Option(
        ..., "--kind", help="; ".join(f"{k} ({v})" for k, v in DOCUMENT_KINDS.items()) + "."
    ),
) -> None:
    """Store one of a deployment's documents (checked; replaces an earlier one) and publish it on the
    deployment's public page (audited)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    with store_session() as store, clean_errors(*ERRORS):
        doc = store_document(
            store, acting(store, roles.PLAN_DEPLOYMENT), deployment_id, kind, data, file.name
        )
    console.print(
        f"{DOCUMENT_KINDS[doc.kind]} stored ({doc.fmt.upper()}, {len(data):,} bytes): published at "
        f"/public/deployments/{deployment_id}/documents/{doc.kind}",
        highlight=False,
    )
