"""``openlfr gallery reindex``: the gallery index rebuilt from the stored encrypted templates after its file
was damaged or lost, or to apply changed index settings; a damaged index is a clear error, not a traceback."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from openlfr.config import Settings
from openlfr.retro.gallery_keys import GalleryError, GalleryIndexError, gallery_key, get_gallery
from openlfr.retro.gallery_records import remove_record, search_gallery
from openlfr.retro.saved_index import forget_loaded_indexes, index_path, reindex_gallery
from openlfr.store import Store, open_store
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry
from openlfr.vision import FaceEngine, best_face, load_image
from tests.cli_login import CLI_PASSWORD
from tests.retro.helpers import CELEB, KNOWN, celeb, cli_env, cli_log_in, small_gallery


def _probe(engine: FaceEngine, rel: str):  # type: ignore[no-untyped-def]
    image = load_image(celeb(rel))
    face = best_face(engine.detect(image), image.shape)
    assert face is not None
    return engine.embed(image, [face])[0].embedding


def _top_records(store: Store, emb, k: int = 3) -> list[str]:  # type: ignore[no-untyped-def]
    with store.session() as s:
        g = get_gallery(s, "custody")
    return [c.record_id for c in search_gallery(store, g, gallery_key(store, g), emb, k)[0]]


def get_gallery_id(store: Store) -> str:
    with store.session() as s:
        return get_gallery(s, "custody").id


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 16] = bytes(16)
    path.write_bytes(bytes(data))


def test_reindex_rebuilds_a_damaged_or_lost_index(store: Store, engine_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine = engine_factory("opencv-zoo")
    imported = small_gallery(store, engine)
    obama = _probe(engine, f"{CELEB}/knn_examples/test/obama1.jpg")
    assert _top_records(store, obama)[0] == "OB-1"
    path = index_path(store, get_gallery_id(store))

    # Damaged: a search (in a process that has not loaded the index yet) fails naming the file and the fix.
    _damage(path)
    forget_loaded_indexes()
    with pytest.raises(GalleryIndexError) as err:
        _top_records(store, obama)
    message = str(err.value)
    assert str(path) in message and "does not decrypt" in message and "gallery reindex" in message
    # A removal still holds while the index is unreadable (rows and images go; a reindex will not see them).
    assert remove_record(store, "AL-1", "ann (custody)", "not charged") == 1

    with pytest.raises(GalleryError, match="needs a reason"):
        reindex_gallery(store, "ann (custody)", " ")
    seen: list[tuple[int, int]] = []
    rep = reindex_gallery(
        store, "ann (custody)", "index file corrupt", progress=lambda d, t: seen.append((d, t))
    )
    assert rep.templates == imported - 1 and "does not decrypt" in rep.previous
    assert seen[0] == (0, imported - 1) and seen[-1] == (imported - 1, imported - 1)
    forget_loaded_indexes()  # as a fresh process would: read the rebuilt file
    top = _top_records(store, obama, k=len(KNOWN) + 10)
    assert top[0] == "OB-1" and "AL-1" not in top
    with store.session() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "gallery.reindex")).one()
        details = json.loads(entry.details)
        assert entry.actor.startswith("ann") and details["reason"] == "index file corrupt"
        assert details["templates"] == imported - 1

    # Lost: with no file at all the index is rebuilt from the rows when first needed, and reindex says so.
    path.unlink()
    forget_loaded_indexes()
    assert _top_records(store, obama)[0] == "OB-1"
    assert not path.exists()  # a search does not write the index
    assert reindex_gallery(store, "ann (custody)", "index file lost").previous == "missing"
    assert path.is_file()


def run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from openlfr.cli import app; app()", *args],
        env=cli_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_reindex_command(tmp_path: Path, engine_factory) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path / "openlfr")
    store = open_store(settings)
    try:
        imported = small_gallery(store, engine_factory("opencv-zoo"))
        path = index_path(store, get_gallery_id(store))
    finally:
        store.close()
    _damage(path)
    cli_log_in(settings, Role.OPERATOR)
    photo = tmp_path / "photo.jpg"
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    r = run(settings, "oifr", str(photo), "--reason", "unconscious", "--json")
    assert r.returncode == 2, r.stdout
    assert "Traceback" not in r.stderr and "index.bin" in r.stderr and "cannot be read" in r.stderr
    assert "openlfr gallery reindex" in r.stderr
    assert not photo.exists()  # OIFR deletes the photo also when the search fails

    r = run(settings, "gallery", "reindex", "--reason", "index corrupt")
    assert r.returncode != 0 and "operator" in r.stderr  # an operator may search, not rebuild the index
    cli_log_in(settings, Role.ADMIN)
    r = run(settings, "gallery", "reindex", "--reason", "index corrupt", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["templates"] == imported and out["index"].startswith("IvfGalleryIndex")
    assert "does not decrypt" in out["previous_index"]

    # Changed index settings are applied by a reindex: here to the exact index.
    r = run(
        settings, "gallery", "reindex", "--reason", "exact search", "--json", OPENLFR_RETRO__INDEX="exact"
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["index"] == "ExactGalleryIndex"

    r = run(settings, "login", "operator", "--password-env", "PW", PW=CLI_PASSWORD)  # back as the operator
    assert r.returncode == 0, r.stderr
    shutil.copy(celeb(f"{CELEB}/knn_examples/test/obama1.jpg"), photo)
    r = run(settings, "oifr", str(photo), "--reason", "unconscious", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["faces"][0]["candidates"][0]["record_id"] == "OB-1"
    assert not photo.exists()
