"""``openlfr calibration crowd|show``: a force's first day, the reference crowd its watchlists are checked
against, and the minimum threshold a deployment then gets.

Without a reference crowd in the data folder, every watchlist entry is enrolled without the attraction
check and a deployment is held to the stricter minimum validated without it; ``calibration crowd --from DIR``
builds the crowd once (a few minutes), after which ``deployment create`` defaults to the lower minimum the
calibration validated for checked watchlists.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from openlfr.api import roles
from openlfr.cli.app import app, choose_pack, clean_errors, console, err_console, fail, settings
from openlfr.cli.identity import acting
from openlfr.evaluation.datasets import DatasetError
from openlfr.evaluation.reference_crowd import build_reference_crowd, crowd_records
from openlfr.governance.audit import record
from openlfr.governance.deployment_checks import default_threshold
from openlfr.matching.calibration import CalibrationError, load_calibration
from openlfr.matching.reference_crowd import reference_crowd_path, save_reference_crowd
from openlfr.vision import ImageError, ModelPackError, load_engine

calibration_app = typer.Typer(
    help="The reference crowd and the minimum threshold a deployment gets.", no_args_is_help=True
)
app.add_typer(calibration_app, name="calibration")


@calibration_app.command("crowd")
def calibration_crowd(
    from_: Path = typer.Option(
        ...,
        "--from",
        help="Folder of strangers' face photographs (any images under it, or a UTKFace-style folder with "
        "a manifest.csv): none of them may be on a watchlist. Its templates are kept in the data folder "
        "(mode 0600); the photographs are not copied.",
    ),
    pack: str | None = typer.Option(None, "--pack", help="Model pack (default: the configured one)."),
    max_faces: int = typer.Option(
        # As `openlfr demo`: with the calibration's share of 0.1 %, a template's own threshold then rests on
        # 3 crowd faces, enough for the normalised rule to ease as well as raise.
        3200,
        "--max",
        min=1,
        help="At most this many photographs, spread evenly over the folder (3,200 take a few minutes).",
    ),
) -> None:
    """Build the reference crowd for the enrolment attraction check, so that watchlists are checked and a
    deployment may open at the validated default (one command, with progress)."""
    s = settings()
    pack_name = choose_pack(pack).name
    from openlfr.cli.store_access import store_session

    with store_session() as store:
        who = acting(store, roles.BUILD_REFERENCE_CROWD)
        with clean_errors(CalibrationError, DatasetError, ModelPackError, ImageError, OSError):
            cal = load_calibration(pack_name, s.data_dir)
            if cal is None:
                fail(f"no calibration for pack {pack_name}: run `openlfr evaluate --pack {pack_name}` first")
            records, what = crowd_records(from_)
            engine = load_engine(pack_name, s)
            with Progress(
                TextColumn("reference crowd: embedding strangers' faces"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err_console,
            ) as bar:
                task = bar.add_task("crowd", total=min(max_faces, len(records)))
                crowd = build_reference_crowd(
                    engine,
                    cal,
                    records,
                    s,
                    size=max_faces,
                    what=what,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
            path = save_reference_crowd(crowd, s.data_dir)
        with store.session() as session:
            record(
                session,
                who,
                "calibration.reference_crowd",
                target=pack_name,
                details={
                    "pack": pack_name,
                    "faces": crowd.size,
                    "source": crowd.source,
                    "rule": crowd.rule,
                    "reference_threshold": crowd.reference_threshold,
                },
            )
        minimum, why = default_threshold(store, pack_name)
    console.print(f"reference crowd of {crowd.size} faces written to {path}", highlight=False)
    console.print(f"deployments of pack {pack_name} now default to {minimum:.3f}: {why}", highlight=False)


@calibration_app.command("show")
def calibration_show(pack: str | None = typer.Option(None, "--pack", help="Model pack.")) -> None:
    """The minimum a new deployment gets, and why (whether a reference crowd is in the data folder)."""
    pack_name = choose_pack(pack).name
    from openlfr.cli.store_access import store_session

    with store_session() as store:
        acting(store, roles.VIEW_DEPLOYMENTS)
        minimum, why = default_threshold(store, pack_name)
    crowd = reference_crowd_path(pack_name, settings().data_dir)
    console.print(f"reference crowd: {crowd if crowd.is_file() else 'none'}", highlight=False)
    console.print(f"default threshold {minimum:.3f}: {why}", highlight=False)
