"""Real reference images for governance tests, chosen from the shared data's manifests (never by file name)."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from openlfr.governance.watchlists import SubjectEntry
from openlfr.vision import load_engine, load_image
from tests.conftest import require_data


@lru_cache(maxsize=1)
def lfw_people(count: int = 6, per_person: int = 2) -> tuple[tuple[str, tuple[Path, ...]], ...]:
    """``count`` LFW people (manifest order) with ``per_person`` images whose face passes the quality bar."""
    root = require_data("lfw")
    by_person: dict[str, list[Path]] = defaultdict(list)
    with open(root / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            by_person[row["identity"]].append(root / row["path"])
    engine = load_engine("opencv-zoo")
    out = []
    for person, paths in by_person.items():
        good = []
        for p in paths:
            faces = engine.analyse(load_image(p), embed=False)
            if len(faces) == 1 and faces[0].quality is not None and faces[0].quality.score >= 0.6:
                good.append(p)
            if len(good) == per_person:
                break
        if len(good) == per_person:
            out.append((person, tuple(good)))
        if len(out) == count:
            break
    return tuple(out)


def two_people_scene() -> Path:
    """A photo in the shared library examples that the manifest says shows more than one person."""
    root = require_data("small_celeb_examples")
    with open(root / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if "multi-face" in (row.get("note") or "").lower():
                return root / row["path"]
    raise AssertionError("no multi-face scene in small_celeb_examples")


def shrunk(path: Path, width: int = 64) -> bytes:
    """The image scaled down until its face is below the quality bar's minimum size."""
    img = load_image(path)
    small = cv2.resize(img, (width, int(img.shape[0] * width / img.shape[1])), interpolation=cv2.INTER_AREA)
    return bytes(cv2.imencode(".png", small)[1])


def blank_png() -> bytes:
    return bytes(cv2.imencode(".png", np.full((200, 200, 3), 128, np.uint8))[1])


def entry(subject_id: str, now: datetime, **kw: object) -> SubjectEntry:
    values: dict[str, object] = {
        "subject_id": subject_id,
        "category": "wanted by a court",
        "reason": "warrant 123 for burglary",
        "image_source": "custody",
        "offence_seriousness": "either_way",
        "legal_basis": "PACE 1984 s64A",
        "approved_by": "Insp. Smith",
        "expires_at": now + timedelta(days=30),
    }
    values.update(kw)
    return SubjectEntry(**values)  # type: ignore[arg-type]
