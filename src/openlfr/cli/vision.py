"""``openlfr models``, ``openlfr faces``, ``openlfr compare``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import typer
from rich.table import Table

from openlfr.cli.app import app, choose_pack, clean_errors, console, err_console, settings
from openlfr.vision import (
    PACKS,
    Face,
    FaceEngine,
    ImageError,
    ModelPackError,
    best_face,
    cosine_similarity,
    load_engine,
    load_image,
    pack_status,
)

PackOption = typer.Option(None, "--pack", "-p", help="Model pack (default: the configured one).")


def engine_for(pack: str | None) -> FaceEngine:
    """Load a verified engine, telling the user about a restrictive licence first."""
    chosen = choose_pack(pack)
    with clean_errors(ModelPackError):
        return load_engine(chosen.name, settings())


def read(path: Path) -> np.ndarray:
    s = settings()
    with clean_errors(ImageError):
        return load_image(path, max_pixels=s.vision.max_image_pixels, max_bytes=s.vision.max_image_bytes)


@app.command()
def models(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """The model packs, their licences, and whether their files are installed and verified."""
    rows: list[dict[str, Any]] = []
    for pack in PACKS.values():
        status = pack_status(pack)
        rows.append(
            {
                "pack": pack.name,
                "detector": pack.detector,
                "embedder": pack.embedder,
                "embedding_size": pack.embedding_size,
                "licence": pack.licence,
                "commercial_use": pack.commercial_use,
                "verified": all(s.ok for s in status),
                "files": [
                    {
                        "file": s.file.filename,
                        "package": s.file.requirement,
                        "sha256": s.file.sha256,
                        "verified": s.ok,
                        "detail": s.message,
                    }
                    for s in status
                ],
                "default": pack.name == settings().vision.pack,
            }
        )
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="Model packs")
    for col in ("pack", "detector", "embedder", "licence", "files"):
        table.add_column(col)
    for r in rows:
        files = "\n".join(
            f"[green]✓[/] {f['file']}" if f["verified"] else f"[red]✗ {f['detail']}[/]" for f in r["files"]
        )
        name = f"{r['pack']} (default)" if r["default"] else str(r["pack"])
        table.add_row(name, str(r["detector"]), f"{r['embedder']}", str(r["licence"]), files)
    console.print(table)
    for pack in PACKS.values():
        if pack.licence_notice:
            console.print(f"[yellow]{pack.name}:[/] {pack.licence_notice}", highlight=False)


def annotate(image: np.ndarray, faces: list[Face]) -> np.ndarray:
    out = image.copy()
    for i, f in enumerate(faces):
        ok = f.quality is None or f.quality.acceptable
        colour = (0, 200, 0) if ok else (0, 140, 255)
        x1, y1, x2, y2 = (int(v) for v in f.box)
        thick = max(1, round(min(image.shape[:2]) / 400))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        for x, y in f.landmarks:
            cv2.circle(out, (int(x), int(y)), max(2, thick + 1), (255, 0, 0), -1)
        label = f"#{i + 1} {f.quality.score:.2f}" if f.quality else f"#{i + 1}"
        cv2.putText(out, label, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, colour, thick)
    return out


@app.command()
def faces(
    images: list[Path] = typer.Argument(..., help="Image files."),
    pack: str | None = PackOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    annotate_to: Path | None = typer.Option(
        None, "--annotate", help="Write the image with boxes and landmarks here (one input image only)."
    ),
) -> None:
    """Faces found in each image, with their quality and, when low, the reasons."""
    if annotate_to is not None and len(images) != 1:
        raise typer.BadParameter("--annotate takes exactly one input image", param_hint="--annotate")
    engine = engine_for(pack)
    results: list[dict[str, Any]] = []
    for path in images:
        image = read(path)
        found = engine.assess(image, engine.detect(image))
        results.append(
            {
                "image": str(path),
                "width": image.shape[1],
                "height": image.shape[0],
                "pack": engine.pack.name,
                "faces": [f.as_dict() for f in found],
            }
        )
        if annotate_to is not None and not cv2.imwrite(str(annotate_to), annotate(image, found)):
            raise typer.BadParameter(f"cannot write {annotate_to}", param_hint="--annotate")
    if as_json:
        console.print_json(json.dumps(results))
        return
    for r in results:
        found_faces = r["faces"]
        console.print(f"[bold]{r['image']}[/] ({r['width']}x{r['height']}): {len(found_faces)} face(s)")
        if not found_faces:
            continue
        table = Table(show_header=True)
        for col in ("#", "box", "det", "quality", "size px", "eyes px", "yaw/pitch/roll", "reasons"):
            table.add_column(col)
        for i, f in enumerate(found_faces, 1):
            q = f["quality"]
            table.add_row(
                str(i),
                ",".join(f"{v:.0f}" for v in f["box"]),
                f"{f['detector_score']:.2f}",
                f"{q['score']:.2f}",
                f"{q['face_px']:.0f}",
                f"{q['inter_eye_px']:.0f}",
                f"{q['yaw_deg']:+.0f}/{q['pitch_deg']:+.0f}/{q['roll_deg']:+.0f}",
                "; ".join(q["reasons"]) or "[green]ok[/]",
            )
        console.print(table)
    if annotate_to is not None:
        console.print(f"annotated image written to {annotate_to}")


@app.command()
def compare(
    a: Path = typer.Argument(..., help="First image."),
    b: Path = typer.Argument(..., help="Second image."),
    pack: str | None = PackOption,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Compare the main face of two images: similarity, and what the pack's calibrated threshold says."""
    engine = engine_for(pack)
    best: list[Face] = []
    for path in (a, b):
        image = read(path)
        face = best_face(engine.assess(image, engine.detect(image)), image.shape)
        if face is None:
            face = best_face(engine.assess(image, engine.detect(image, pad=0.5)), image.shape)
        if face is None:
            err_console.print(f"[bold red]error:[/] no face found in {path}")
            raise typer.Exit(1)
        best.append(engine.embed(image, [face])[0])
    assert best[0].embedding is not None and best[1].embedding is not None
    sim = cosine_similarity(best[0].embedding, best[1].embedding)
    threshold = engine.pack.verification_threshold
    same = sim >= threshold
    result = {
        "a": str(a),
        "b": str(b),
        "pack": engine.pack.name,
        "similarity": round(sim, 4),
        "threshold": threshold,
        "same_person": same,
        "quality_a": best[0].quality.as_dict() if best[0].quality else None,
        "quality_b": best[1].quality.as_dict() if best[1].quality else None,
    }
    if as_json:
        console.print_json(json.dumps(result))
        return
    verdict = "[green]likely the same person[/]" if same else "[yellow]likely different people[/]"
    console.print(
        f"similarity {sim:.3f} vs {engine.pack.name}'s calibrated 1:1 threshold {threshold:.3f}: {verdict}\n"
        "[dim]A 1:1 comparison is guidance for a human, not a decision.[/]"
    )
    for label, face in (("a", best[0]), ("b", best[1])):
        if face.quality and face.quality.reasons:
            console.print(f"[yellow]image {label} quality is low:[/] {'; '.join(face.quality.reasons)}")
