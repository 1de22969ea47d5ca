"""A small real gallery for the search tests: celebrity example photos plus LFW distractors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from openlfr.api.users import create_user
from openlfr.config import Settings
from openlfr.retro.gallery import GalleryRow, import_gallery
from openlfr.store import Store, open_store
from openlfr.store.auth_models import Role
from openlfr.vision.engine import FaceEngine
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


CLI_PASSWORD = "correct horse battery staple"
SRC = Path(__file__).resolve().parents[2] / "src"


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a real ``openlfr`` process on this data folder (SQLite)."""
    env = dict(os.environ, OPENLFR_DATA_DIR=str(settings.data_dir), PYTHONPATH=str(SRC), **extra)
    env.pop("OPENLFR_STORE__DATABASE_URL", None)
    env.pop("OPENLFR_TOKEN", None)
    return env


def cli_log_in(settings: Settings, role: Role) -> None:
    """The command line acts as an authenticated user (issue 14): make one with this role and log in (the
    token goes to the data folder, where later commands on it find it)."""
    username = role.value.replace("_", "-")
    store = open_store(settings)
    try:
        create_user(store, username, CLI_PASSWORD, role, actor="test setup")
    finally:
        store.close()
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from openlfr.cli import app; app()",
            "login",
            username,
            "--password-env",
            "PW",
        ],
        env=cli_env(settings, PW=CLI_PASSWORD),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
