"""``openlfr retro case|search|review|show|purge`` (RFR) and ``openlfr oifr`` (operator-initiated search).

Identity: ``--as "NAME (ROLE)"`` through ``cli.governance.actor_of``, as every governance command (the one
place the CLI decides who is acting).
"""

from __future__ import annotations

import json
import os
import signal
import stat
import threading
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import app, choose_pack, console, err_console, fail, settings
from openlfr.cli.governance import ActorOption, JsonOption, actor_of, store_session
from openlfr.retro import search as retro
from openlfr.retro.media import Cancelled
from openlfr.store.models import OIFR_REASONS, REVIEW_DECISIONS
from openlfr.vision.engine import load_engine

retro_app = typer.Typer(
    help="Retrospective recognition (RFR): cases, searches, reviews.", no_args_is_help=True
)
case_app = typer.Typer(help="RFR cases.", no_args_is_help=True)
retro_app.add_typer(case_app, name="case")
app.add_typer(retro_app, name="retro")

GalleryOption = typer.Option(None, "--gallery", help="Gallery name (default: settings retro.gallery).")


@case_app.command("open")
def case_open(
    reference: str = typer.Argument(..., help="The case reference (e.g. a crime number)."),
    reason: str | None = typer.Option(None, "--reason", help="Why this investigation needs RFR (audited)."),
    actor: str | None = ActorOption,
) -> None:
    """Open a case: its probes and candidate lists are kept for retro.case_retention_days."""
    with store_session() as store:
        c = retro.open_case(store, reference, reason or "", actor_of(store, actor, roles.OPEN_CASE))
    console.print(f"case {c.reference} opened; kept until {c.retain_until:%Y-%m-%d}")


@retro_app.command("search")
def search_cmd(
    media: list[Path] = typer.Argument(..., help="Images and/or videos to search."),
    case: str = typer.Option(..., "--case", help="The case reference (open it first)."),
    reason: str | None = typer.Option(None, "--reason", help="Why this search (audited)."),
    gallery: str | None = GalleryOption,
    top: int | None = typer.Option(None, "--top", min=1, max=200, help="Candidates per face (default 20)."),
    pack: str | None = typer.Option(None, help="Model pack (default: the configured one)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Search every face of the media against the gallery; one candidate list per face (per person in a
    video). A reviewer decides; the system never declares a match."""
    chosen = choose_pack(pack)
    with store_session() as store:
        who = actor_of(store, actor, roles.RUN_RFR)
        engine = load_engine(chosen.name, settings())
        cancel = threading.Event()
        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
        try:
            with Progress(
                TextColumn("analysing frames"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("frames", total=None)

                def progress(done: int, planned: int) -> None:
                    bar.update(task, completed=done, total=planned)

                try:
                    faces = retro.rfr_search(
                        store,
                        engine,
                        case,
                        reason,
                        media,
                        who,
                        gallery_name=gallery,
                        k=top,
                        progress=progress,
                        cancel=cancel,
                    )
                except Cancelled as exc:
                    fail(str(exc), code=130)
        finally:
            signal.signal(signal.SIGINT, previous)
    if as_json:
        print(json.dumps({"case": case, "faces": [f.as_dict() for f in faces]}))
        return
    for f in faces:
        where = f" frame {f.frame_index}" if f.frame_index is not None else ""
        t = Table(title=f"{Path(f.media).name}{where}, face {f.face_index + 1} (probe {f.probe_id})")
        for col in ("rank", "record", "score", "calibration", "candidate id"):
            t.add_column(col)
        for c in f.candidates:
            t.add_row(str(c.rank), c.record_id, f"{c.score:.3f}", c.calibration, c.id or "")
        console.print(t)
        if f.low_quality:
            console.print(f"[yellow]low-quality probe:[/] {'; '.join(f.low_quality)}")
    console.print(
        "Candidates are leads for a reviewer, not identifications: record decisions with `openlfr retro review`."
    )


@retro_app.command("review")
def review_cmd(
    candidate: str = typer.Argument(..., help="Candidate id (from `retro search` or `retro show`)."),
    decision: str = typer.Option(..., "--decision", help=f"One of: {', '.join(REVIEW_DECISIONS)}."),
    note: str | None = typer.Option(None, "--note"),
    actor: str | None = ActorOption,
) -> None:
    """Record a reviewer's decision; a possible match is reported once a second reviewer agrees."""
    with store_session() as store:
        status = retro.review_candidate(
            store, candidate, decision, actor_of(store, actor, roles.REVIEW_RFR), note
        )
    console.print(f"candidate {candidate}: {status}")


@retro_app.command("show")
def show_cmd(
    case: str = typer.Option(..., "--case"), actor: str | None = ActorOption, as_json: bool = JsonOption
) -> None:
    """A case's candidate lists, decisions and reported possible matches (no images)."""
    with store_session() as store:
        out = retro.case_results(store, case, actor_of(store, actor, roles.VIEW_CASES))
    if as_json:
        print(json.dumps(out))
        return
    for f in out["faces"]:
        t = Table(
            title=f"{f['media']} face {f['face_index'] + 1} (probe {f['probe_id']}), by {f['searched_by']}"
        )
        for col in ("rank", "record", "score", "status", "candidate id"):
            t.add_column(col)
        for c in f["candidates"]:
            t.add_row(str(c["rank"]), c["record_id"], f"{c['score']:.3f}", c["status"], c["id"])
        console.print(t)
    console.print(f"reported possible matches (two reviewers agreed): {len(out['reported'])}")


@retro_app.command("purge")
def purge_cmd(actor: str | None = ActorOption) -> None:
    """Purge every case past its retention period (probe crops, lists, decisions, key); audited."""
    with store_session() as store:
        done = retro.purge_cases(
            store, actor_of(store, actor, roles.OPEN_CASE) if actor else retro.audit.SYSTEM
        )
    console.print(f"purged {len(done)} case(s)" + (f": {', '.join(done)}" if done else ""))


@app.command("oifr")
def oifr_cmd(
    photo: Path = typer.Argument(
        ...,
        help="The photo of the person; it is deleted after the search, and also when the call is refused.",
    ),
    reason: str | None = typer.Option(None, "--reason", help=f"One of: {', '.join(OIFR_REASONS)}."),
    gallery: str | None = GalleryOption,
    top: int | None = typer.Option(None, "--top", min=1, max=50, help="Candidates (default 6)."),
    pack: str | None = typer.Option(None, help="Model pack (default: the configured one)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Operator-initiated search: a short candidate list for someone who cannot or will not say who they
    are. The photo is overwritten and deleted as soon as the list exists, and also when the search fails or
    the call is refused (role, login or reason: issue 25), so that a refused call leaves no photo behind."""
    try:
        with store_session() as store:  # who is asking, before the photo is read
            who = actor_of(store, actor, roles.RUN_OIFR)
        try:
            retro.parse_oifr_reason(reason or "")
        except retro.RetroError as exc:
            fail(str(exc))  # nothing searched; the photo still goes (finally)
        if not photo.is_file():
            fail(f"{photo}: not a regular file")
        data = bytearray(photo.read_bytes())
        chosen = choose_pack(pack)
        with store_session() as store:
            engine = load_engine(chosen.name, settings())
            result = retro.oifr_search(store, engine, data, reason or "", who, gallery_name=gallery, k=top)
    finally:
        _shred(photo)
    if as_json:
        print(json.dumps(result.as_dict()))
        return
    t = Table(title=f"OIFR ({OIFR_REASONS[result.reason]}): top {len(result.candidates)}")
    for col in ("rank", "record", "score", "calibration"):
        t.add_column(col)
    for c in result.candidates:
        t.add_row(str(c.rank), c.record_id, f"{c.score:.3f}", c.calibration)
    console.print(t)
    console.print("The photo has been deleted. Candidates are leads, not identifications: a person decides.")


def _shred(path: Path) -> None:
    """Overwrite then delete the probe photo (a regular file only: a fifo or device is never opened)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return
        size = path.stat().st_size
        with path.open("r+b") as fh:
            fh.write(b"\0" * size)
            fh.flush()
            os.fsync(fh.fileno())
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        err_console.print(
            f"[bold red]warning:[/] the photo {path} could not be deleted ({exc}): delete it now"
        )
