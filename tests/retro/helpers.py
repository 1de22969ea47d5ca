"""A small real gallery for the search tests: celebrity example photos plus LFW distractors."""

from __future__ import annotations

from pathlib import Path

from openlfr.retro.gallery import GalleryRow, import_gallery
from openlfr.store import Store
from openlfr.vision.engine import FaceEngine
from tests.cli_login import cli_env, cli_log_in  # noqa: F401  (re-exported for the retro tests)
from tests.conftest import require_data
from tests.retro.conftest import lfw_people

CELEB = "small_celeb_examples/face_recognition/examples"
KNOWN = {
    "OB-1": f"{CELEB}/knn_examples/train/obama/obama.jpg",
    "BI-1": f"{CELEB}/knn_examples/train/biden/biden.jpg",
    "KH-1": f"{CELEB}/knn_examples/train/kit_harington/john1.jpeg",
    "RL-1": f"{CELEB}/knn_examples/train/rose_leslie/img1.jpg",
    "AL-1": f"{CELEB}/knn_examples/train/alex_lacamoire/img1.jpg",
}


def celeb(rel: str) -> Path:
    return require_data(*rel.split("/"))


def small_gallery(store: Store, engine: FaceEngine, distractors: int = 5) -> int:
    rows = [GalleryRow(i + 2, rec, celeb(p)) for i, (rec, p) in enumerate(KNOWN.items())]
    for j, (_, imgs) in enumerate(lfw_people(min_images=1, people=distractors + 40)[40:]):
        rows.append(GalleryRow(100 + j, f"LFW-{j}", require_data("lfw", *imgs[0].split("/"))))
    rep = import_gallery(store, engine, rows, "ann (custody)")
    assert {r[1] for r in rep.refused}.isdisjoint(KNOWN), rep.refused
    return rep.imported
