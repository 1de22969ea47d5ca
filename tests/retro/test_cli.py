"""The scripting contract: ``retro search --json`` and ``oifr --json`` print one object whose ``faces``
hold ``candidates`` with ``record_id``, ``score``, ``rank``; the OIFR photo file is deleted."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openlfr.config import Settings
from openlfr.store import open_store
from openlfr.store.auth_models import Role
from tests.retro.helpers import CELEB, celeb, cli_env, cli_log_in, small_gallery

ROOT = Path(__file__).resolve().parents[2]


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from openlfr.cli import app; app()", *args],
        env=cli_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def gallery_settings(tmp_path_factory, engine_factory) -> Settings:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path_factory.mktemp("cli") / "openlfr")
    store = open_store(settings)
    small_gallery(store, engine_factory("opencv-zoo"))
    store.close()
    cli_log_in(settings, Role.OPERATOR)  # opens cases, runs RFR and OIFR
    return settings


def test_retro_search_json_contract(gallery_settings: Settings) -> None:
    scene = celeb(f"{CELEB}/knn_examples/test/obama_and_biden.jpg")
    r = run(
        gallery_settings,
        "retro",
        "search",
        "--case",
        "CR-7",
        "--reason",
        "cctv",
        "--provenance",
        "cctv",
        str(scene),
        "--json",
    )
    assert r.returncode == 2 and "no case 'CR-7'" in r.stderr
    assert (
        run(
            gallery_settings,
            "retro",
            "case",
            "open",
            "CR-7",
            "--reason",
            "burglary",
            "--crime-category",
            "burglary_theft",
            "--policy-ref",
            "POL-1",
            "--dpia-ref",
            "DPIA-1",
        ).returncode
        == 0
    )
    r = run(gallery_settings, "retro", "search", "--case", "CR-7", "--provenance", "cctv", str(scene))
    assert r.returncode == 2 and "needs a reason" in r.stderr
    r = run(
        gallery_settings,
        "retro",
        "search",
        "--case",
        "CR-7",
        "--reason",
        "cctv",
        "--provenance",
        "cctv",
        str(scene),
        "--json",
        "--top",
        "4",
    )
    # Two people: nothing is searched until the officer chooses; the people are listed (no images).
    assert r.returncode == 2 and "choose whom to search" in r.stderr, r.stderr
    people = json.loads(r.stdout)["choose"]
    assert len(people) >= 2 and all("thumbnail" not in p for p in people)
    r = run(
        gallery_settings,
        "retro",
        "search",
        "--case",
        "CR-7",
        "--reason",
        "cctv",
        "--provenance",
        "cctv",
        str(scene),
        "--all-faces",
        "",
    )
    assert r.returncode == 2 and "--all-faces needs the reason" in r.stderr
    r = run(
        gallery_settings,
        "retro",
        "search",
        "--case",
        "CR-7",
        "--reason",
        "cctv",
        "--provenance",
        "cctv",
        str(scene),
        "--json",
        "--top",
        "4",
        "--all-faces",
        "both men are suspects",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["faces"]) >= 2
    for face in out["faces"]:
        cands = face["candidates"]
        assert 0 < len(cands) <= 4
        assert [c["rank"] for c in cands] == list(range(1, len(cands) + 1))
        assert all({"record_id", "score", "rank"} <= c.keys() for c in cands)
        assert [c["score"] for c in cands] == sorted((c["score"] for c in cands), reverse=True)
    assert {"OB-1", "BI-1"} <= {f["candidates"][0]["record_id"] for f in out["faces"]}
    left = min(people, key=lambda p: p["box"][0])["person"]
    r = run(
        gallery_settings,
        "retro",
        "search",
        "--case",
        "CR-7",
        "--reason",
        "cctv",
        "--provenance",
        "cctv",
        str(scene),
        "--json",
        "--person",
        str(left),
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["faces"]) == 1


def test_oifr_json_and_photo_deleted(gallery_settings: Settings, tmp_path: Path) -> None:
    photo = tmp_path / "officer_photo.jpg"
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    r = run(gallery_settings, "oifr", str(photo), "--reason", "bored")
    assert r.returncode == 2 and "not one of the OIFR reasons" in r.stderr
    assert not photo.exists()  # refused, nothing searched, and the photo still deleted (issue 25)
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    r = run(
        gallery_settings,
        "oifr",
        str(photo),
        "--reason",
        "seriously_injured",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    cands = out["faces"][0]["candidates"]
    assert len(cands) == 6 and cands[0]["record_id"] == "OB-1" and cands[0]["rank"] == 1
    assert not photo.exists()


def test_switched_off_refused_on_the_cli(gallery_settings: Settings, tmp_path: Path) -> None:
    photo = tmp_path / "p.jpg"
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    r = run(
        gallery_settings, "oifr", str(photo), "--reason", "unconscious", OPENLFR_RETRO__OIFR_ENABLED="false"
    )
    assert r.returncode == 2 and "OIFR) is switched off" in r.stderr
    assert not photo.exists()  # refused: the photo of the person goes all the same (issue 25)
    r = run(
        gallery_settings,
        "retro",
        "search",
        "--case",
        "CR-7",
        "--reason",
        "x",
        "--provenance",
        "cctv",
        str(photo),
        OPENLFR_RETRO__RFR_ENABLED="false",
    )
    assert r.returncode == 2 and "RFR) is switched off" in r.stderr


def test_oifr_refused_for_role_deletes_the_photo(gallery_settings: Settings, tmp_path: Path) -> None:
    """Issue 25: a call refused for its role left the photo of the person on disk."""
    photo = tmp_path / "officer_photo.jpg"
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    settings = Settings(data_dir=tmp_path / "other" / "openlfr")  # logged in as an auditor there
    shutil.copytree(gallery_settings.data_dir, settings.data_dir)
    settings.data_dir.joinpath("cli-token").unlink()
    cli_log_in(settings, Role.AUDITOR)
    r = run(settings, "oifr", str(photo), "--reason", "seriously_injured")
    assert r.returncode == 2 and "may not do this" in r.stderr, r.stderr
    assert not photo.exists()
