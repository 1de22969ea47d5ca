"""The evaluation data: LFW (identities, the watchlist side) and UTKFace (the labelled crowd).

Both are read from their ``manifest.csv`` in the shared data folder (``settings.dataset_dir``); nothing
here knows any individual file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from openlfr.errors import OpenLFRError


class DatasetError(OpenLFRError, ValueError):
    """The evaluation data is missing or its manifest is malformed."""


@dataclass(frozen=True)
class ImageRecord:
    """One photograph in the evaluation data, with its labels."""

    dataset: str
    """``lfw`` or ``utkface``."""
    path: Path
    rel: str
    """Path relative to the dataset folder (what reports show)."""
    subject: str
    """LFW identity; for UTKFace (no identities) the file itself, each treated as a different person."""
    sex: str
    race: str = ""
    age: int | None = None


def _read_manifest(folder: Path) -> list[dict[str, str]]:
    manifest = folder / "manifest.csv"
    if not manifest.is_file():
        raise DatasetError(f"no manifest at {manifest} (is OPENLFR_DATA set to the shared data folder?)")
    with manifest.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise DatasetError(f"{manifest} lists no images")
    return rows


def load_lfw(dataset_dir: Path) -> list[ImageRecord]:
    """LFW images, sorted by identity then file name (so "first image" is well defined)."""
    folder = dataset_dir / "lfw"
    out = []
    for row in _read_manifest(folder):
        try:
            out.append(
                ImageRecord(
                    "lfw", folder / row["path"], row["path"], row["identity"], row["gender"] or "unknown"
                )
            )
        except KeyError as exc:
            raise DatasetError(f"{folder / 'manifest.csv'} has no column {exc}") from exc
    return sorted(out, key=lambda r: (r.subject, r.rel))


def load_utkface(dataset_dir: Path) -> list[ImageRecord]:
    """UTKFace crowd images, in manifest order."""
    return load_utkface_folder(dataset_dir / "utkface")


def load_utkface_folder(folder: Path) -> list[ImageRecord]:
    """The images a UTKFace-style ``manifest.csv`` in ``folder`` lists (``path``, ``gender``, ``race``,
    ``age``), in manifest order."""
    out = []
    for row in _read_manifest(folder):
        try:
            out.append(
                ImageRecord(
                    "utkface",
                    folder / row["path"],
                    row["path"],
                    "utk:" + row["path"],
                    row["gender"] or "unknown",
                    row["race"] or "unknown",
                    int(row["age"]),
                )
            )
        except (KeyError, ValueError) as exc:
            raise DatasetError(f"{folder / 'manifest.csv'}: bad row {row}: {exc}") from exc
    return out


def age_band(age: int | None, edges: Sequence[int]) -> str:
    """The label of the band an age falls in, e.g. ``0-17``, ``18-24``, ``65+``."""
    if age is None:
        return "unknown"
    edges = sorted(edges)
    for lo, hi in zip(edges, [*edges[1:], None], strict=True):
        if age >= lo and (hi is None or age < hi):
            return f"{lo}+" if hi is None else f"{lo}-{hi - 1}"
    return "unknown"
