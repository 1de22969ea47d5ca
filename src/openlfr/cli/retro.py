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
from openlfr.cli.governance import ActorOption, JsonOption, actor_of
from openlfr.cli.store_access import store_session
from openlfr.retro.cases import UseSwitchedOff, close_case, open_case, purge_cases, require_enabled
from openlfr.retro.media import Cancelled, RetroError
from openlfr.retro.oifr import oifr_search, parse_oifr_reason, record_oifr_outcome
from openlfr.retro.people import ChoiceNeeded, PersonFound
from openlfr.retro.reviews import case_results, record_investigation, review_candidate
from openlfr.retro.rfr import rfr_search
from openlfr.store.models import (
    CRIME_CATEGORIES,
    INVESTIGATION_OUTCOMES,
    MEDIA_PROVENANCE,
    OIFR_OUTCOMES,
    OIFR_REASONS,
    REVIEW_DECISIONS,
)
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
    crime_category: str | None = typer.Option(
        None,
        "--crime-category",
        help=f"What the published totals count the case under, one of: {', '.join(CRIME_CATEGORIES)}.",
    ),
    policy_ref: str | None = typer.Option(
        None, "--policy-ref", help="The force policy the search is made under (default: [retro] policy_ref)."
    ),
    dpia_ref: str | None = typer.Option(
        None, "--dpia-ref", help="The DPIA covering the search (default: [retro] dpia_ref)."
    ),
    actor: str | None = ActorOption,
) -> None:
    """Open a case: its probes and candidate lists are kept for retro.case_retention_days at most."""
    _enabled("rfr")
    with store_session() as store:
        c = open_case(
            store,
            reference,
            reason or "",
            actor_of(store, actor, roles.OPEN_CASE),
            crime_category=crime_category,
            policy_ref=policy_ref,
            dpia_ref=dpia_ref,
        )
    console.print(f"case {c.reference} opened; kept until {c.retain_until:%Y-%m-%d} at the latest")


@case_app.command("close")
def case_close(
    reference: str = typer.Argument(..., help="The case reference."),
    reason: str = typer.Option(
        ..., "--reason", help="Why the case ends now (audited), e.g. 'suspect charged'."
    ),
    actor: str | None = ActorOption,
) -> None:
    """Close a case early: its probe crops, candidate lists, decisions and key are purged at once (audited).
    Only the officer who opened it or a supervisor (authorising officer) may."""
    with store_session() as store:
        c = close_case(store, reference, reason, actor_of(store, actor, roles.CLOSE_CASE))
    console.print(f"case {c.reference} closed; its probes, lists, decisions and key were purged")


def _enabled(use: str) -> None:
    try:
        require_enabled(settings(), use)
    except UseSwitchedOff as exc:
        fail(str(exc))


def _print_people(people: list[PersonFound], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"choose": [p.as_dict(thumbnail=False) for p in people]}))
        return
    t = Table(title="People found (nothing searched or stored yet)")
    for col in ("person", "media", "frame", "box (x1, y1, x2, y2)", "quality"):
        t.add_column(col)
    for p in people:
        t.add_row(
            str(p.number),
            Path(p.media).name,
            "" if p.frame_index is None else str(p.frame_index),
            ", ".join(f"{v:.0f}" for v in p.box),
            f"{p.quality:.2f}" + (" (low)" if p.low_quality else ""),
        )
    err_console.print(t)


@retro_app.command("search")
def search_cmd(
    media: list[Path] = typer.Argument(..., help="Images and/or videos to search."),
    case: str = typer.Option(..., "--case", help="The case reference (open it first)."),
    reason: str | None = typer.Option(None, "--reason", help="Why this search (audited)."),
    provenance: str | None = typer.Option(
        None, "--provenance", help=f"Where the media came from, one of: {', '.join(MEDIA_PROVENANCE)}."
    ),
    person: list[int] | None = typer.Option(
        None,
        "--person",
        help="Search only this person, numbered as a first run without it lists them (repeatable). The "
        "others are not searched and nothing of them is kept.",
    ),
    all_faces: str | None = typer.Option(
        None,
        "--all-faces",
        metavar="REASON",
        help="Search everyone in the media instead of chosen people; needs the reason why (audited).",
    ),
    gallery: str | None = GalleryOption,
    top: int | None = typer.Option(None, "--top", min=1, max=200, help="Candidates per face (default 20)."),
    pack: str | None = typer.Option(None, help="Model pack (default: the configured one)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Search the person of interest in the media against the gallery. A single face in a still image is
    searched at once; for a video or several faces, a first run lists the people found and a second names
    them with --person N (or --all-faces REASON). A reviewer decides; the system never declares a match."""
    _enabled("rfr")
    if all_faces is not None and not all_faces.strip():
        fail("--all-faces needs the reason why everyone in the media must be searched")
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
                    faces = rfr_search(
                        store,
                        engine,
                        case,
                        reason,
                        media,
                        who,
                        provenance=provenance,
                        person=person or None,
                        all_faces_reason=all_faces,
                        gallery_name=gallery,
                        k=top,
                        progress=progress,
                        cancel=cancel,
                    )
                except Cancelled as exc:
                    fail(str(exc), code=130)
                except ChoiceNeeded as need:
                    bar.stop()
                    _print_people(need.people, as_json)
                    fail(str(need))
        finally:
            signal.signal(signal.SIGINT, previous)
    if as_json:
        print(json.dumps({"case": case, "faces": [f.as_dict() for f in faces]}))
        return
    for f in faces:
        where = f" frame {f.frame_index}" if f.frame_index is not None else ""
        t = Table(title=f"{Path(f.media).name}{where}, face {f.face_index + 1} (probe {f.probe_id})")
        for col in ("rank", "record", "score", "calibration", "record flags", "candidate id"):
            t.add_column(col)
        for c in f.candidates:
            t.add_row(
                str(c.rank), c.record_id, f"{c.score:.3f}", c.calibration, "; ".join(c.flags), c.id or ""
            )
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
    note: str | None = typer.Option(None, "--note", help="A note recorded with the decision (audited)."),
    actor: str | None = ActorOption,
) -> None:
    """Record a reviewer's decision; a possible match is reported once a second reviewer agrees."""
    with store_session() as store:
        status = review_candidate(store, candidate, decision, actor_of(store, actor, roles.REVIEW_RFR), note)
    console.print(f"candidate {candidate}: {status}")


@retro_app.command("investigation")
def investigation_cmd(
    candidate: str = typer.Argument(..., help="Candidate id of a reported possible match."),
    outcome: str = typer.Option(..., "--outcome", help=f"One of: {', '.join(INVESTIGATION_OUTCOMES)}."),
    actor: str | None = ActorOption,
) -> None:
    """Record whether the investigation confirmed a reported possible match (counted in the published
    totals by crime category, never with the record)."""
    with store_session() as store:
        words = record_investigation(store, candidate, outcome, actor_of(store, actor, roles.OPEN_CASE))
    console.print(f"candidate {candidate}: {words}")


@retro_app.command("show")
def show_cmd(
    case: str = typer.Option(..., "--case", help="The case reference."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """A case's candidate lists, decisions and reported possible matches (no images)."""
    with store_session() as store:
        out = case_results(store, case, actor_of(store, actor, roles.VIEW_CASES))
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
    """Purge, as the logged-in user, every case past its retention period (probe crops, lists, decisions,
    key); audited. A case with candidates nobody decided on goes to a supervisor first."""
    with store_session() as store:
        done = purge_cases(store, actor_of(store, actor, roles.RUN_PURGE))
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
        _enabled("oifr")  # switched off: refused, and the photo goes all the same (finally)
        with store_session() as store:  # who is asking, before the photo is read
            who = actor_of(store, actor, roles.RUN_OIFR)
        try:
            parse_oifr_reason(reason or "")
        except RetroError as exc:
            fail(str(exc))  # nothing searched; the photo still goes (finally)
        if not photo.is_file():
            fail(f"{photo}: not a regular file")
        data = bytearray(photo.read_bytes())
        chosen = choose_pack(pack)
        with store_session() as store:
            engine = load_engine(chosen.name, settings())
            result = oifr_search(store, engine, data, reason or "", who, gallery_name=gallery, k=top)
    finally:
        _shred(photo)
    if as_json:
        print(json.dumps(result.as_dict()))
        return
    t = Table(title=f"OIFR ({OIFR_REASONS[result.reason]}): top {len(result.candidates)}")
    for col in ("rank", "record", "score", "calibration", "record flags"):
        t.add_column(col)
    for c in result.candidates:
        t.add_row(str(c.rank), c.record_id, f"{c.score:.3f}", c.calibration, "; ".join(c.flags))
    console.print(t)
    console.print("The photo has been deleted. Candidates are leads, not identifications: a person decides.")
    console.print(
        f"Record your conclusion: openlfr oifr-outcome {result.id} --outcome "
        "identified --record RECORD | not_identified | inconclusive"
    )


@app.command("oifr-outcome")
def oifr_outcome_cmd(
    search: str = typer.Argument(..., help="The OIFR search id (printed by `openlfr oifr`)."),
    outcome: str = typer.Option(..., "--outcome", help=f"One of: {', '.join(OIFR_OUTCOMES)}."),
    record: str | None = typer.Option(
        None,
        "--record",
        help="With --outcome identified: the record on the list the person was identified as.",
    ),
    actor: str | None = ActorOption,
) -> None:
    """Record the officer's conclusion on an OIFR list, with the time (audited, counted in the totals)."""
    _enabled("oifr")
    with store_session() as store:
        out = record_oifr_outcome(
            store, search, outcome, actor_of(store, actor, roles.RUN_OIFR), record_id=record
        )
    console.print(f"OIFR search {search}: {OIFR_OUTCOMES[out['outcome']]} (recorded {out['recorded_at']})")


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
