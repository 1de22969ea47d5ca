"""Building a force's reference crowd (``matching/reference_crowd.py``) from a folder of strangers' faces.

The crowd is what the enrolment attraction check compares new templates with; without one, every template
is enrolled unchecked and a deployment is held to the stricter minimum validated without the check
(``Calibration.minimum_for``). ``openlfr calibration crowd --from DIR`` and ``openlfr demo`` both build it
here, with the reference threshold, share and offset rule of the pack's calibration, so that the
watchlists it checks are held to the minimum that calibration validated for them.

A folder is read in one of two ways: a UTKFace-style folder (a ``manifest.csv`` with a ``path`` column,
directly in it or in its ``utkface/`` subfolder; tight crops, detected with a border), or any folder of
photographs (every image file under it, sorted by path; detected as they are, then with a border).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from openlfr.config import Settings
from openlfr.evaluation.datasets import DatasetError, ImageRecord, load_utkface_folder
from openlfr.evaluation.embeddings import embed_records
from openlfr.matching.calibration import Calibration, CalibrationError
from openlfr.matching.reference_crowd import ReferenceCrowd
from openlfr.vision import FaceEngine

CROWD_IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})

Progress = Callable[[int, int], None]


def crowd_records(folder: Path) -> tuple[list[ImageRecord], str]:
    """The photographs of a crowd folder and a description of it (folder name, never a full path);
    :class:`DatasetError` naming the problem when there are none."""
    folder = folder.expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder of face images")
    for base in (folder, folder / "utkface"):
        if (base / "manifest.csv").is_file():
            return load_utkface_folder(base), f"UTKFace-style folder {base.name}"
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in CROWD_IMAGE_SUFFIXES)
    if not paths:
        raise DatasetError(f"{folder}: no face images found (.jpg, .png, .bmp, .webp) and no manifest.csv")
    rel = [p.relative_to(folder).as_posix() for p in paths]
    return [ImageRecord("crowd", p, r, "crowd:" + r, "unknown") for p, r in zip(paths, rel, strict=True)], (
        f"folder {folder.name}"
    )


def crowd_policy(cal: Calibration) -> dict[str, float | str]:
    """The attraction rule the calibration validated its minimum with: the crowd carries it to enrolment."""
    policy = (cal.extra.get("power") or {}).get("attraction_policy")
    if not policy or "reference_threshold" not in policy or "fmr" not in policy:
        raise CalibrationError(
            f"the calibration of pack {cal.pack} has no attraction rule (reference threshold and share): "
            "run `openlfr evaluate` for this pack first"
        )
    return {
        "reference_threshold": float(policy["reference_threshold"]),
        "fmr": float(policy["fmr"]),
        "rule": str(policy.get("rule", "attractors")),
        "max_lowering": float(policy.get("max_lowering", 0.0)),
    }


def matches_calibration(crowd: ReferenceCrowd, cal: Calibration) -> bool:
    """Whether a crowd was built with this calibration's rule (else it must be built again)."""
    p = crowd_policy(cal)
    return (
        crowd.reference_threshold == p["reference_threshold"]
        and crowd.rule == p["rule"]
        and crowd.max_lowering == p["max_lowering"]
    )


def build_reference_crowd(
    engine: FaceEngine,
    cal: Calibration,
    records: list[ImageRecord],
    settings: Settings,
    *,
    size: int,
    what: str,
    progress: Progress | None = None,
) -> ReferenceCrowd:
    """Embed up to ``size`` of ``records`` (evenly spread over the list, so every part of a sorted
    manifest is in it) and return the crowd; :class:`DatasetError` when no face is found in any."""
    if size < 1:
        raise DatasetError("a reference crowd needs at least one face")
    p = crowd_policy(cal)
    step = max(1, len(records) // size)
    chosen = records[::step][:size]
    # No embedding cache: the crowd file itself is what a rerun reuses.
    faces = embed_records(engine, chosen, settings, progress=progress, use_cache=False)
    templates = np.asarray(faces.embeddings[faces.detected], np.float32)
    if templates.shape[0] == 0:
        raise DatasetError(f"no face was found in the {len(chosen)} image(s) read from {what}")
    digest = hashlib.sha256("\n".join(r.rel for r in chosen).encode()).hexdigest()[:12]
    return ReferenceCrowd(
        pack=engine.pack.name,
        templates=templates,
        reference_threshold=float(p["reference_threshold"]),
        fmr=float(p["fmr"]),
        source=f"{what}: {templates.shape[0]} faces of {len(records)} images (every {step}th; list {digest})",
        rule=str(p["rule"]),
        max_lowering=float(p["max_lowering"]),
    )
