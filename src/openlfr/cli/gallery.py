"""``openlfr gallery import|stats|remove|reindex``: the long-lived custody gallery searched by RFR and OIFR.

Identity: the user logged in with ``openlfr login`` (``cli.identity``), whose role is checked against
``api.roles`` through ``cli.governance.actor_of``, as for every governance command.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from openlfr.api import roles
from openlfr.cli.app import app, choose_pack, console, err_console, settings
from openlfr.cli.governance import ActorOption, JsonOption, actor_of
from openlfr.cli.store_access import store_session
from openlfr.retro.gallery_import import import_gallery, read_gallery_csv
from openlfr.retro.gallery_records import gallery_stats, remove_record
from openlfr.retro.saved_index import reindex_gallery
from openlfr.vision.engine import load_engine

gallery_app = typer.Typer(help="The custody gallery: import, stats, remove, reindex.", no_args_is_help=True)
app.add_typer(gallery_app, name="gallery")

GalleryOption = typer.Option(None, "--gallery", help="Gallery name (default: settings retro.gallery).")


@gallery_app.command("import")
def import_cmd(
    csv_path: Path = typer.Argument(
        ..., help="CSV with a header of at least record_id,image (date, date_of_birth optional)."
    ),
    images: Path = typer.Option(..., "--images", help="Folder the CSV's image paths are relative to."),
    gallery: str | None = GalleryOption,
    pack: str | None = typer.Option(None, help="Model pack (default: the configured one)."),
    report_file: Path | None = typer.Option(None, "--report", help="Also write the quality report (CSV)."),
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Import custody records. Resumable: run it again after an interruption and it carries on."""
    chosen = choose_pack(pack)
    with store_session() as store:
        who = actor_of(store, actor, roles.IMPORT_GALLERY)
        rows = read_gallery_csv(csv_path, images)
        engine = load_engine(chosen.name, settings())
        cancel = threading.Event()
        # Ctrl-C stops after the current image; what was committed stays, and a rerun resumes.
        previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
        try:
            with Progress(
                TextColumn("importing images"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("import", total=len(rows))
                rep = import_gallery(
                    store,
                    engine,
                    rows,
                    who,
                    gallery_name=gallery,
                    progress=lambda n: bar.advance(task, n),
                    cancel=cancel,
                )
        finally:
            signal.signal(signal.SIGINT, previous)
    if report_file is not None:
        from openlfr.safetext import write_csv

        # Record ids and file names come from the imported CSV: neutralised, as every CSV openlfr writes.
        with report_file.open("w", newline="") as fh:
            write_csv(
                fh,
                ["line", "record_id", "image", "outcome", "reason"],
                [
                    *((ln, rec, img, "refused", why) for ln, rec, img, why in rep.refused),
                    *(
                        (ln, rec, img, "imported, flagged", " | ".join(fl))
                        for ln, rec, img, fl in rep.flagged
                    ),
                ],
            )
    out: dict[str, Any] = {
        "imported": rep.imported,
        "already_imported": rep.already_imported,
        "refused": [dict(zip(("line", "record_id", "image", "reason"), r, strict=True)) for r in rep.refused],
        "possible_duplicates": [
            {"record_id": a, "looks_like": b, "score": s} for a, b, s in rep.possible_duplicates
        ],
        "flagged": [
            {"line": ln, "record_id": rec, "image": img, "flags": list(fl)}
            for ln, rec, img, fl in rep.flagged
        ],
        "seconds": round(rep.seconds, 2),
        "images_per_second": round(rep.images_per_second, 2),
        "cancelled": rep.cancelled,
    }
    if as_json:
        console.print_json(json.dumps(out))
    else:
        console.print(
            f"imported {rep.imported} images ({rep.images_per_second:.1f}/s), {rep.already_imported} already "
            f"in the gallery, {len(rep.refused)} refused (no face or unreadable), {len(rep.flagged)} imported "
            f"with flags, {len(rep.possible_duplicates)} possible duplicates"
            + (" -- cancelled: run the same command again to resume" if rep.cancelled else "")
        )
        if rep.refused:
            t = Table(title="Quality report: refused images")
            for c in ("line", "record", "image", "reason"):
                t.add_column(c)
            for line, rec, img, why in rep.refused[:200]:
                t.add_row(str(line), rec, Path(img).name, why)
            console.print(t)
        if rep.flagged:
            t = Table(title="Imported with flags (reviewers see them beside the candidate)")
            for c in ("line", "record", "image", "flags"):
                t.add_column(c)
            for line, rec, img, fl in rep.flagged[:200]:
                t.add_row(str(line), rec, Path(img).name, "; ".join(fl))
            console.print(t)
        if rep.possible_duplicates:
            t = Table(title="Possible duplicates (same face, another record id): imported, check at source")
            for c in ("record", "looks like", "score"):
                t.add_column(c)
            for a, b, s in rep.possible_duplicates[:200]:
                t.add_row(a, b, f"{s:.3f}")
            console.print(t)
    if rep.cancelled:
        raise typer.Exit(130)


@gallery_app.command("stats")
def stats_cmd(gallery: str | None = GalleryOption, as_json: bool = JsonOption) -> None:
    """Records, images and the index of a gallery (no biometric data)."""
    with store_session() as store:
        actor_of(store, None, roles.VIEW_GALLERY_STATS)
        st = gallery_stats(store, gallery)
    out = {
        "gallery": st.name,
        "id": st.gallery_id,
        "pack": st.pack,
        "records": st.records,
        "images": st.templates,
        "index": st.index_kind,
        "created_at": st.created_at.isoformat(),
        "flagged_records": st.flagged_records,
        "flags": st.flags,
    }
    if as_json:
        console.print_json(json.dumps(out))
        return
    t = Table(show_header=False, title=f"Gallery {st.name}")
    for k, v in out.items():
        t.add_row(k, str(v))
    console.print(t)


@gallery_app.command("remove")
def remove_cmd(
    record_id: str = typer.Argument(..., help="The record whose images are removed."),
    reason: str = typer.Option(..., "--reason", help="Why (audited), e.g. 'not charged'."),
    gallery: str | None = GalleryOption,
    actor: str | None = ActorOption,
) -> None:
    """Remove a record's images and templates: immediate in the index, audited."""
    with store_session() as store:
        n = remove_record(
            store, record_id, actor_of(store, actor, roles.REMOVE_GALLERY_RECORD), reason, gallery
        )
    console.print(f"removed record {record_id}: {n} image(s) and template(s)")


@gallery_app.command("reindex")
def reindex_cmd(
    reason: str = typer.Option(
        ..., "--reason", help="Why (audited), e.g. 'index file corrupt' or 'probe_share changed'."
    ),
    gallery: str | None = GalleryOption,
    actor: str | None = ActorOption,
    as_json: bool = JsonOption,
) -> None:
    """Rebuild the gallery index from the stored encrypted templates, with the current index settings
    (after the index file was lost or damaged, or retro.index / index_codes / probe_share / refine_factor changed).
    Same roles as an import; audited."""
    with store_session() as store:
        who = actor_of(store, actor, roles.IMPORT_GALLERY)
        with Progress(
            TextColumn("rebuilding the gallery index"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("reindex", total=None)
            rep = reindex_gallery(
                store,
                who,
                reason,
                gallery_name=gallery,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    out = {
        "gallery": rep.gallery,
        "templates": rep.templates,
        "index": rep.index_kind,
        "previous_index": rep.previous,
        "seconds": round(rep.seconds, 2),
    }
    if as_json:
        console.print_json(json.dumps(out))
    else:
        console.print(
            f"gallery {rep.gallery}: index rebuilt from {rep.templates} stored templates in {rep.seconds:.1f} s "
            f"({rep.index_kind}); the previous index was {rep.previous}"
        )
