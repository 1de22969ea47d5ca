"""The gallery: import (quality report, duplicates, resumable after a real kill), encryption at rest,
immediate audited removal, stats."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from openlfr.config import Settings
from openlfr.governance.errors import NotFound
from openlfr.retro.gallery_import import import_gallery, read_gallery_csv
from openlfr.retro.gallery_keys import GalleryError, blob_folder, gallery_key, get_gallery
from openlfr.retro.gallery_records import gallery_stats, remove_record, search_gallery
from openlfr.retro.saved_index import index_path
from openlfr.store import Store, open_store
from openlfr.store.auth_models import Role
from openlfr.store.models import AuditEntry, GalleryTemplate
from openlfr.vision import load_image
from tests.conftest import DATA
from tests.retro.conftest import lfw_people
from tests.retro.helpers import cli_log_in

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine(engine_factory):  # type: ignore[no-untyped-def]
    return engine_factory("opencv-zoo")


def test_csv_errors_name_the_problem(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.csv"
    bad.write_text("id,picture\n1,a.jpg\n")
    with pytest.raises(GalleryError, match="missing: record_id, image"):
        read_gallery_csv(bad, DATA / "lfw")
    bad.write_text("record_id,image,date\nR1,a.jpg,31/02/2020\nR2,../../etc/passwd,\n")
    with pytest.raises(GalleryError) as err:
        read_gallery_csv(bad, DATA / "lfw")
    assert (
        "line 2" in str(err.value)
        and "line 3" in str(err.value)
        and "outside the images folder" in str(err.value)
    )
    with pytest.raises(GalleryError, match="not a folder"):
        read_gallery_csv(write_csv([("R1", "x.jpg")]), tmp_path / "nowhere")


def test_import_report_search_and_removal(store: Store, engine, write_csv, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    people = lfw_people(min_images=3, people=4)
    rows = [(f"C-{i}", imgs[0]) for i, (_, imgs) in enumerate(people)]
    rows += [(f"C-{i}", imgs[1]) for i, (_, imgs) in enumerate(people[:2])]  # two images of one record
    rows.append(("C-dup", people[0][1][0]))  # the very same file under another record: already imported
    corrupt = tmp_path / "images" / "corrupt.jpg"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    csv_path = write_csv(rows)
    parsed = read_gallery_csv(csv_path, DATA / "lfw")
    extra = read_gallery_csv(write_csv([("C-bad", "corrupt.jpg")], "bad.csv"), tmp_path / "images")
    rep = import_gallery(store, engine, parsed + extra, "ann (custody)")
    assert rep.already_imported == 1
    assert [r[1] for r in rep.refused] == ["C-bad"]
    assert rep.imported + len(rep.refused) + rep.already_imported == len(parsed) + 1
    assert rep.imported >= 5

    st = gallery_stats(store)
    assert st.templates == rep.imported and st.records <= 4

    # A second image of the same person under another record id is reported as a possible duplicate.
    third = people[0][1][2]
    again = import_gallery(
        store,
        engine,
        read_gallery_csv(write_csv([("C-other", third)], "d.csv"), DATA / "lfw"),
        "ann (custody)",
    )
    assert again.imported == 1, again.refused
    assert again.possible_duplicates and again.possible_duplicates[0][1] == "C-0"
    # Within one batch too (before anything of it is committed to the index).
    many = lfw_people(min_images=8, people=1)[0][1][:5]
    batch = read_gallery_csv(
        write_csv([(f"N-{i}", img) for i, img in enumerate(many)], "n.csv"), DATA / "lfw"
    )
    within = import_gallery(store, engine, batch, "ann (custody)")
    assert within.imported >= 2, within.refused
    flagged = {a: b for a, b, _ in within.possible_duplicates}
    assert len(flagged) >= 2, within.possible_duplicates
    assert any(other.startswith("N-") for other in flagged.values())  # found among the uncommitted batch

    # Encrypted at rest: image blobs are not the image bytes, templates not the float vectors, the index
    # file holds no plain float32 run.
    with store.session() as s:
        g = get_gallery(s, "custody")
        row = s.scalars(select(GalleryTemplate).where(GalleryTemplate.record_id == "C-0")).first()
        assert row is not None
    original = (DATA / "lfw" / people[0][1][0]).read_bytes()
    blob_file = store.blobs.path(blob_folder(g.id), row.image_blob)
    assert original[:64] not in blob_file.read_bytes()
    key = gallery_key(store, g)
    probe = engine.analyse(load_image(original))[0].embedding
    assert probe is not None
    assert probe.astype(np.float32).tobytes()[:32] not in row.template
    assert index_path(store, g.id).is_file()
    assert probe.astype(np.float32).tobytes()[:16] not in index_path(store, g.id).read_bytes()

    # Search: the record comes back rank 1, once, even though it has two images.
    cands = search_gallery(store, g, key, probe[None, :], 5)[0]
    assert cands[0].record_id == "C-0" and cands[0].rank == 1
    assert len({c.record_id for c in cands}) == len(cands)

    # Removal: needs a reason, is immediate in the index and audited, and takes the blobs with it.
    with pytest.raises(GalleryError, match="reason"):
        remove_record(store, "C-0", "ann (custody)", " ")
    with pytest.raises(NotFound):
        remove_record(store, "nobody", "ann (custody)", "not charged")
    n = remove_record(store, "C-0", "ann (custody)", "not charged")
    assert n >= 2
    after = search_gallery(store, g, key, probe[None, :], 5)[0]
    assert "C-0" not in {c.record_id for c in after}
    assert not blob_file.exists()
    with store.session() as s:
        e = s.scalars(select(AuditEntry).where(AuditEntry.action == "gallery.remove")).one()
        assert e.target == "C-0" and "not charged" in e.details and e.actor == "ann"
    # A fresh process (nothing cached) reads the saved index: still gone.
    from openlfr.retro.saved_index import forget_loaded_indexes

    forget_loaded_indexes()
    fresh = search_gallery(store, g, key, probe[None, :], 5)[0]
    assert "C-0" not in {c.record_id for c in fresh}


def _count(settings: Settings) -> tuple[int, int]:
    st = open_store(settings)
    try:
        with st.session() as s:
            n = s.scalar(select(func.count(GalleryTemplate.id))) or 0
            distinct = s.scalar(select(func.count(func.distinct(GalleryTemplate.image_sha256)))) or 0
        return int(n), int(distinct)
    except Exception:
        return 0, 0
    finally:
        st.close()


@pytest.mark.slow
def test_an_import_killed_midway_resumes_without_duplicates(tmp_path: Path, write_csv) -> None:  # type: ignore[no-untyped-def]
    people = lfw_people(min_images=2, people=9)
    rows = [(f"K-{i}", img) for i, (_, imgs) in enumerate(people) for img in imgs[:2]]
    csv_path = write_csv(rows)
    settings = Settings(data_dir=tmp_path / "openlfr")
    env = dict(
        os.environ,
        OPENLFR_DATA_DIR=str(settings.data_dir),
        OPENLFR_RETRO__IMPORT_CHECKPOINT="2",
        PYTHONPATH=str(ROOT / "src"),
    )
    cmd = [
        sys.executable,
        "-c",
        "from openlfr.cli import app; app()",
        "gallery",
        "import",
        str(csv_path),
        "--images",
        str(DATA / "lfw"),
    ]
    cli_log_in(settings, Role.AUTHORISING_OFFICER)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    committed = 0
    while time.monotonic() < deadline and proc.poll() is None:
        committed, _ = _count(settings)
        if committed >= 4:
            break
        time.sleep(0.3)
    assert proc.poll() is None, f"import ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)  # a real kill: no clean-up code runs
    proc.wait()
    killed_at, _ = _count(settings)
    assert 0 < killed_at < len(rows)

    done = subprocess.run([*cmd, "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    total, distinct = _count(settings)
    assert total == distinct  # no image twice
    assert out["already_imported"] >= killed_at
    assert total == killed_at + out["imported"]
    assert total + len(out["refused"]) == len(rows)
    st = open_store(settings)
    with st.session() as s:
        g = get_gallery(s, "custody")
        blobs = set(s.scalars(select(GalleryTemplate.image_blob)))
    files = {p.stem for p in (st.blobs.root / blob_folder(g.id)).iterdir()}
    assert files == blobs  # no half-stored image left from the killed run
    st.close()


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_a_second_import_into_the_same_gallery_is_refused(store: Store, engine, write_csv) -> None:  # type: ignore[no-untyped-def]
    import fcntl

    people = lfw_people(min_images=1, people=2)
    rows = read_gallery_csv(write_csv([("L-1", people[0][1][0])]), DATA / "lfw")
    import_gallery(store, engine, rows, "ann (custody)")
    with store.session() as s:
        g = get_gallery(s, "custody")
    lock = index_path(store, g.id).with_name("import.lock").open("w")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running import holds it
    try:
        more = read_gallery_csv(write_csv([("L-2", people[1][1][0])], "b.csv"), DATA / "lfw")
        with pytest.raises(GalleryError, match="another import"):
            import_gallery(store, engine, more, "bob (custody)")
    finally:
        lock.close()
    assert gallery_stats(store).templates == 1


@pytest.mark.parametrize("store_settings", ["sqlite"], indirect=True)
def test_two_face_custody_image_is_enrolled_and_flagged(store: Store, engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import cv2

    from openlfr.retro.candidates import template_flags

    people = lfw_people(min_images=2, people=2)
    a = cv2.imread(str(DATA / "lfw" / people[0][1][0]))
    b = cv2.imread(str(DATA / "lfw" / people[1][1][0]))
    # Two faces of similar size side by side: the watchlist's rule would refuse it as ambiguous.
    small = cv2.resize(b, (int(b.shape[1] * 0.9), int(b.shape[0] * 0.9)))
    small = np.pad(small, ((0, a.shape[0] - small.shape[0]), (0, 0), (0, 0)), constant_values=128)
    pair = np.concatenate([a, small], axis=1)
    (tmp_path / "img").mkdir()
    cv2.imwrite(str(tmp_path / "img" / "pair.jpg"), pair)
    blank = np.full((200, 200, 3), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "img" / "blank.jpg"), blank)
    csv_path = tmp_path / "c.csv"
    csv_path.write_text("record_id,image\nP-1,pair.jpg\nP-0,blank.jpg\n")
    rep = import_gallery(store, engine, read_gallery_csv(csv_path, tmp_path / "img"), "ann (custody)")
    assert rep.imported == 1 and [r[1] for r in rep.refused] == ["P-0"]  # refused only for no face
    assert rep.refused[0][3] == "no face found"
    [(_, rec, _, flags)] = rep.flagged
    assert rec == "P-1" and any(f.startswith("several faces: 2 found") for f in flags)
    assert any(f.startswith("subject unclear") for f in flags)  # 1.2x < the 1.5 margin
    st = gallery_stats(store)
    assert st.flagged_records == 1 and st.flags["several faces"] == 1
    # The dominant (larger, left) face was enrolled: that person's other photo finds the record at rank 1,
    # and the reviewer sees the flags beside the candidate.
    probe = engine.analyse(load_image((DATA / "lfw" / people[0][1][1]).read_bytes()))[0].embedding
    with store.session() as s:
        g = get_gallery(s, "custody")
    cands = search_gallery(store, g, gallery_key(store, g), probe[None, :], 1)[0]
    assert cands[0].record_id == "P-1"
    assert template_flags(store, [cands[0].template_id])[cands[0].template_id] == tuple(flags)
