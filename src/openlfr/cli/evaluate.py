"""``openlfr evaluate``: accuracy and equitability of model packs, and the calibration deployments read."""

from __future__ import annotations

import shlex
import sys
import time
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

from openlfr.cli.app import app, choose_pack, clean_errors, console, err_console, settings
from openlfr.evaluation.datasets import DatasetError
from openlfr.matching.calibration import local_calibration_path
from openlfr.vision import ModelPackError


@app.command()
def evaluate(
    pack: list[str] = typer.Option(
        None,
        "--pack",
        "-p",
        help="Model pack(s) to evaluate; repeat for several (crowd hygiene then needs "
        "two packs to agree). Default: the configured pack.",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Report folder (default <data_dir>/evaluation/<time>)."
    ),
    calibration_dir: Path | None = typer.Option(
        None,
        "--calibration-dir",
        help="Where to write <pack>.json calibration files (default: this force's own, <data_dir>/calibration).",
    ),
    no_calibration: bool = typer.Option(False, "--no-calibration", help="Write the report only."),
    max_lfw_people: int | None = typer.Option(None, min=2, help="Only the first N LFW people (quick look)."),
    max_crowd: int | None = typer.Option(None, min=1, help="Only the first N crowd faces (quick look)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Embed everything again, ignoring the cache."),
    max_gallery: int | None = typer.Option(
        None,
        "--max-gallery",
        min=0,
        help="Largest gallery for the rank-k identification rates (real faces, then synthetic "
        "distractors up to each of retro.evaluation_gallery_sizes); 0: real faces only. "
        "Default: retro.evaluation_max_gallery.",
    ),
    no_identification: bool = typer.Option(
        False, "--no-identification", help="Leave out the rank-k identification (RFR/OIFR) measures."
    ),
) -> None:
    """Run the 1:N accuracy and equitability evaluation on the shared data and write the report and the
    calibration files (thresholds per FPIR target and watchlist size, validated minimum threshold), with
    the rank-k identification rates of retrospective and operator-initiated search as the gallery grows."""
    # Imported here, not at the top: the evaluation brings matplotlib and scipy, which every other command
    # (each one its own process) would otherwise pay for at start-up.
    from openlfr.evaluation.metrics import EvaluationError
    from openlfr.evaluation.runner import run_evaluation

    s = settings()
    packs = list(pack) if pack else [s.vision.pack]
    for name in packs:
        choose_pack(name)
    if (max_lfw_people or max_crowd) and not no_calibration and calibration_dir is None:
        err_console.print(
            "[yellow]subset run: not writing calibration files (pass --calibration-dir to force)[/]"
        )
        no_calibration = True
    out_dir = out or s.data_dir / "evaluation" / time.strftime("%Y%m%d-%H%M%S")
    cal_dir = None if no_calibration else (calibration_dir or local_calibration_path("x", s.data_dir).parent)
    started = time.monotonic()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)  # type: ignore[arg-type]

        with clean_errors(DatasetError, ModelPackError, EvaluationError, OSError):
            outcome = run_evaluation(
                s,
                packs,
                out_dir,
                calibration_dir=cal_dir,
                max_lfw_people=max_lfw_people,
                max_crowd=max_crowd,
                use_cache=not no_cache,
                progress=progress,
                command="openlfr " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                identification=not no_identification,
                max_gallery=max_gallery,
            )
    elapsed = time.monotonic() - started
    for name, r in outcome.results.items():
        cells = "; ".join(
            f"FPIR {row.fpir_target:g} @ N={row.watchlist_size}: t={row.threshold:.3f} "
            f"FNIR={row.fnir:.3f} ({row.method})"
            for row in r.scaling
            if row.watchlist_size in (1000, 10000)
        )
        state = "" if r.validated else " [red](NOT validated: a difference remains at every threshold)[/]"
        console.print(
            f"[bold]{name}[/]: watchlist {r.watchlist_size}, rank-1 {r.rank1.value:.3f}, "
            f"validated minimum threshold {r.validated_min_threshold:.4f}{state}"
        )
        console.print(f"  {cells}", highlight=False)
        p = r.power
        if p:
            si = p["still_image"]
            ok = {True: "validated", False: "NOT validated"}
            console.print(
                f"  validation with power ({p['crowd_faces']} crowd faces), minimum and still-image FNIR at "
                f"1,000: normalised offsets {p['validated_min_normalised']:.4f} "
                f"({ok[p['validated_normalised']]}), {100 * si['normalised']['fnir']:.1f}%; attractor offsets "
                f"{p['validated_min_with']:.4f} ({ok[p['validated_with']]}), {100 * si['with_check']['fnir']:.1f}%; "
                f"none {p['validated_min_without']:.4f}; {len(p['attractors'])} attracting templates; "
                f"enrolment applies the {p['policy']['rule']} rule",
                highlight=False,
            )
    for name, ident in outcome.identification.items():
        ends = sorted({ident.sizes[0], ident.sizes[-1]})
        ks = "; ".join(
            f"{size:,}: " + ", ".join(f"rank-{k} {ident.row(size, k).overall.value:.3f}" for k in ident.ranks)
            for size in ends
        )
        console.print(
            f"  identification ({name}, {ident.mated_searches} mated searches, galleries "
            f"{ident.sizes[0]:,} to {ident.sizes[-1]:,}): {ks}",
            highlight=False,
        )
    console.print(f"crowd faces excluded by hygiene: {len(outcome.exclusions)}")
    console.print(f"report: {outcome.report_path}")
    for name, path in outcome.calibrations.items():
        console.print(f"calibration ({name}): {path}")
    console.print(f"finished in {elapsed / 60:.1f} min")
