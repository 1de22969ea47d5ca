"""Issue 14, data at rest: private files whatever the umask, staged blobs, the orphan sweep (including a
real kill -9 of ``openlfr watchlist import``), and master key rotation."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openlfr.config import Settings
from openlfr.governance import audit
from openlfr.governance.blob_sweep import sweep_blobs
from openlfr.governance.deployment_closing import close_deployment
from openlfr.governance.deployment_planning import create_deployment
from openlfr.governance.master_key import reencrypt_all, rotate_master_key
from openlfr.governance.retention import purge
from openlfr.store import Store, open_store, utcnow
from openlfr.store.auth_models import Role
from openlfr.store.blobs import STAGING
from openlfr.store.crypto import CryptoError, MasterKey, decrypt, generation_of
from openlfr.store.db import sqlite_path
from openlfr.store.models import DeploymentKey, WatchlistSubject, WatchlistTemplate
from tests.api.conftest import enrolled_open_deployment
from tests.cli_login import cli_env, cli_log_in
from tests.conftest import require_data
from tests.governance.deployment_fields import ASSESSMENTS, SHORT_NOTICE

REPO = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the worst case: every file would be created world-writable
    try:
        yield
    finally:
        os.umask(old)


def _planned(store: Store, cameras: tuple[str, ...] = ("cam-1",)) -> str:
    now = datetime.now(UTC)
    return create_deployment(
        store,
        "planner",
        purpose="Find people wanted by the courts",
        purpose_category="wanted_offenders",
        legal_basis="Common-law policing powers",
        location="Queen Street, Cardiff",
        starts_at=now + timedelta(minutes=5),
        ends_at=now + timedelta(hours=4),
        authorising_officer="Supt. Jones",
        authorising_role="Superintendent",
        cameras=list(cameras),
        threshold=0.4,
        threshold_override_reason="test deployment: no calibration in a fresh data directory",
        short_notice_reason=SHORT_NOTICE,
        **ASSESSMENTS,
    ).id


def all_blob_files(blob_dir: Path) -> list[Path]:
    return sorted(blob_dir.rglob("*.bin"))


# --- permissions -----------------------------------------------------------------------------------------


def test_data_folder_database_wal_and_blobs_are_private_whatever_the_umask(
    settings: Settings, open_umask: None
) -> None:
    store = open_store(settings)
    try:
        dep = _planned(store)
        with store.session() as s:
            key = store.keys.get(s, dep, "watchlist")
            blob = store.blobs.put(dep, key, b"reference image bytes")
        db = settings.data_dir / "openlfr.db"
        assert mode(settings.data_dir) == 0o700
        assert mode(settings.blob_dir) == 0o700
        assert mode(settings.blob_dir / dep) == 0o700
        assert mode(store.blobs.path(dep, blob)) == 0o600
        assert mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            f = db.with_name(db.name + suffix)
            assert f.exists() and mode(f) == 0o600, suffix
        assert mode(settings.master_key_file) == 0o600
    finally:
        store.close()


def test_existing_world_readable_files_are_made_private(settings: Settings) -> None:
    open_store(settings).close()
    db = settings.data_dir / "openlfr.db"
    os.chmod(settings.data_dir, 0o755)
    os.chmod(settings.blob_dir, 0o755)
    os.chmod(db, 0o644)
    store = open_store(settings)
    try:
        assert mode(settings.data_dir) == 0o700 and mode(settings.blob_dir) == 0o700 and mode(db) == 0o600
    finally:
        store.close()


# --- staging and the sweep --------------------------------------------------------------------------------


def test_blobs_are_moved_in_only_after_their_transaction_commits(store: Store) -> None:
    dep = _planned(store)
    with store.session() as s:
        key = store.keys.get(s, dep, "watchlist")
    with pytest.raises(RuntimeError), store.session() as s:
        blob = store.blobs.put(dep, key, b"never committed")
        assert not store.blobs.exists(dep, blob)  # staged, not in place
        assert store.blobs.get(dep, blob, key) == b"never committed"  # readable within its transaction
        raise RuntimeError("the transaction fails")
    assert all_blob_files(store.settings.blob_dir) == []  # rolled back: nothing anywhere
    with store.session() as s:
        blob = store.blobs.put(dep, key, b"committed")
        assert not store.blobs.exists(dep, blob)
    assert store.blobs.exists(dep, blob) and store.blobs.get(dep, blob, key) == b"committed"
    assert all_blob_files(store.settings.blob_dir) == [store.blobs.path(dep, blob)]


def test_sweep_deletes_orphans_and_promotes_committed_staged_blobs(store: Store) -> None:
    dep = enrolled_open_deployment(store)
    blob_dir = store.settings.blob_dir
    with store.session() as s:
        key = store.keys.get(s, dep, "watchlist")
        (kept,) = s.scalars(select(WatchlistTemplate.image_blob))
    # An orphan in place (what the old code left after a kill -9).
    orphan = store.blobs.put(dep, key, b"no row refers to me")
    # A dead process's staging folder: one blob whose row committed (killed between commit and move) and
    # one that no row refers to (killed mid-import).
    dead = blob_dir / STAGING / f"{os.uname().nodename}-{_dead_pid()}" / dep
    dead.mkdir(parents=True)
    shutil.move(store.blobs.path(dep, kept), dead / f"{kept}.bin")
    (dead / "abandoned0000000000000000000000.bin").write_bytes(b"x")
    result = sweep_blobs(store, trigger="manual")
    assert result.as_dict() == {"promoted": 1, "staged_removed": 1, "unreferenced_removed": 1}
    assert store.blobs.exists(dep, kept) and not store.blobs.exists(dep, orphan)
    assert not (blob_dir / STAGING / dead.parent.name).exists()
    (row,) = audit.entries(store, action="blobs.sweep")
    assert json.loads(row.details) == {"trigger": "manual", **result.as_dict()}
    # A sweep at start with nothing to do writes no audit row; one at close or purge always does.
    assert sweep_blobs(store, trigger="start").total == 0
    assert len(audit.entries(store, action="blobs.sweep")) == 1
    close_deployment(store, "Supt. Jones", dep)
    purge(store)
    triggers = [json.loads(r.details)["trigger"] for r in audit.entries(store, action="blobs.sweep")]
    assert triggers == ["manual", "close", "purge"]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_live_staging_of_another_process_is_left_alone(store: Store) -> None:
    dep = _planned(store)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = store.settings.blob_dir / STAGING / f"{os.uname().nodename}-{sleeper.pid}" / dep
        live.mkdir(parents=True)
        (live / "inflight000000000000000000000000.bin").write_bytes(b"x")
        assert store.sweep_blobs().total == 0
        assert (live / "inflight000000000000000000000000.bin").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def _cli(settings: Settings, *args: str, **popen: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "from openlfr.cli import app; app()", *args],
        env=cli_env(settings, COLUMNS="200"),
        cwd=settings.data_dir.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,  # type: ignore[arg-type]
    )


@pytest.mark.slow
def test_kill_9_of_watchlist_import_leaves_orphans_that_the_next_start_sweeps(tmp_path: Path) -> None:
    """For real: ``openlfr watchlist import`` is killed with SIGKILL while it writes its blobs; the next
    command's start sweep removes every file the dead import left, and audits the count."""
    lfw = require_data("lfw")
    settings = Settings(data_dir=tmp_path / "openlfr")
    store = open_store(settings)
    dep = _planned(store)
    store.close()
    with (lfw / "manifest.csv").open() as fh:
        people = {}
        for row in csv.DictReader(fh):
            people.setdefault(row["identity"], row["path"])
            if len(people) == 80:
                break
    expires = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    sheet = tmp_path / "watchlist.csv"
    with sheet.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "subject_id",
                "category",
                "reason",
                "image_source",
                "legal_basis",
                "approved_by",
                "expires_at",
                "images",
                "offence_seriousness",
            ]
        )
        for i, path in enumerate(people.values()):
            w.writerow(
                [
                    f"S-{i:03d}",
                    "wanted_by_court",
                    "warrant",
                    "custody",
                    "warrant",
                    "Insp. Evans",
                    expires,
                    path,
                    "summary",
                ]
            )
    blob_dir = settings.blob_dir
    seen = 0
    cli_log_in(settings, Role.OPERATOR)
    proc = _cli(settings, "watchlist", "import", dep, str(sheet), "--images", str(lfw), "--allow-partial")
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        seen = len(all_blob_files(blob_dir))
        if seen >= 5:  # mid-write: the import writes its blobs one by one after analysing every image
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait()
    if proc.returncode != -signal.SIGKILL:  # pragma: no cover - it finished between two looks
        pytest.skip(f"the import ended (exit {proc.returncode}) before it could be killed mid-write")
    left = all_blob_files(blob_dir)
    assert len(left) >= 5  # the dead import's files are there ...
    store = open_store(settings)
    try:
        with store.session() as s:
            assert s.scalar(select(func.count()).select_from(WatchlistSubject)) == 0  # ... but no row
    finally:
        store.close()
    # The next command (any: here `deployment list`) sweeps at start.
    nxt = _cli(settings, "deployment", "list")
    _out, err = nxt.communicate(timeout=120)
    assert nxt.returncode == 0, err.decode()
    assert all_blob_files(blob_dir) == []
    store = open_store(settings)
    try:
        (row,) = audit.entries(store, action="blobs.sweep")
        details = json.loads(row.details)
        assert details["trigger"] == "start"
        assert details["staged_removed"] + details["unreferenced_removed"] == len(left)
    finally:
        store.close()


# --- master key rotation -----------------------------------------------------------------------------------


def _image_and_rows(store: Store, dep: str) -> tuple[bytes, list[tuple[str, str, bytes]]]:
    with store.session() as s:
        blob = s.scalars(select(WatchlistTemplate.image_blob)).first()
        assert blob is not None
        image = store.blobs.get(dep, blob, store.keys.get(s, dep, "watchlist"))
        rows = [
            (r.deployment_id, r.purpose, r.wrapped_key)
            for r in s.scalars(select(DeploymentKey).where(DeploymentKey.wrapped_key.is_not(None)))
        ]
    return image, rows  # type: ignore[return-value]


def test_keys_rotate_rewraps_every_key_and_the_old_master_key_opens_nothing(store: Store) -> None:
    dep = enrolled_open_deployment(store)
    _planned(store)
    image, before = _image_and_rows(store, dep)
    old_key_file = store.settings.data_dir.parent / "old-master.key"
    shutil.copy(store.settings.master_key_file, old_key_file)
    count = rotate_master_key(store, "admin (admin)").keys_rewrapped
    assert count == len(before) == 4
    # The old master key (a copy kept elsewhere) unwraps none of the stored keys any more.
    old = MasterKey(old_key_file)
    _, after = _image_and_rows(store, dep)
    for dep_id, purpose, wrapped in after:
        with pytest.raises(CryptoError):
            old.unwrap(wrapped, f"openlfr/{dep_id}/{purpose}")
    assert store.settings.master_key_file.read_bytes() != old_key_file.read_bytes()
    assert not store.keys.master.pending_path.exists()
    assert mode(store.settings.master_key_file) == 0o600
    # The data reads the same with the new key, in this process and in a fresh one.
    assert _image_and_rows(store, dep)[0] == image
    reopened = open_store(store.settings)
    try:
        assert _image_and_rows(reopened, dep)[0] == image
    finally:
        reopened.close()
    (row,) = audit.entries(store, action="keys.rotate")
    assert json.loads(row.details)["keys_rewrapped"] == 4 and row.actor == "admin"


def test_a_process_holding_the_old_key_follows_a_rotation(settings: Settings) -> None:
    first = open_store(settings)
    second = open_store(settings)
    try:
        dep = enrolled_open_deployment(first)
        image, _ = _image_and_rows(second, dep)  # second has now cached the old master key
        rotate_master_key(first, "admin (admin)")
        assert _image_and_rows(second, dep)[0] == image
    finally:
        first.close()
        second.close()


def test_a_rotation_killed_after_its_commit_is_finished_at_the_next_open(settings: Settings) -> None:
    store = open_store(settings)
    dep = enrolled_open_deployment(store)
    image, _ = _image_and_rows(store, dep)
    # What a kill between the commit and the rename leaves: keys wrapped under master.key.new.
    new_master = store.keys.master.start_rotation()
    with store.session() as s:
        store.keys.rewrap_all(s, new_master, utcnow())
    store.close()
    reopened = open_store(settings)
    try:
        assert not reopened.keys.master.pending_path.exists()
        assert _image_and_rows(reopened, dep)[0] == image
    finally:
        reopened.close()


def test_a_rotation_killed_before_its_commit_is_undone_at_the_next_open(settings: Settings) -> None:
    store = open_store(settings)
    dep = enrolled_open_deployment(store)
    image, _ = _image_and_rows(store, dep)
    old = settings.master_key_file.read_bytes()
    store.keys.master.start_rotation()  # then killed before the transaction committed
    store.close()
    reopened = open_store(settings)
    try:
        assert not reopened.keys.master.pending_path.exists()
        assert settings.master_key_file.read_bytes() == old
        assert _image_and_rows(reopened, dep)[0] == image
    finally:
        reopened.close()


def test_keys_rotate_command(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "openlfr")
    store = open_store(settings)
    enrolled_open_deployment(store)
    store.close()
    old = settings.master_key_file.read_bytes()
    cli_log_in(settings, Role.ADMIN)
    proc = _cli(settings, "keys", "rotate", "--reencrypt", "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    done = json.loads(out)
    assert done["keys_rewrapped"] == 2 and done["data_key_generations_started"] == 2
    assert sum(done["reencrypted"].values()) >= 2  # the watchlist's template and image
    assert settings.master_key_file.read_bytes() != old


# --- issue 25 item 4: keys that move forward -----------------------------------------------------------------


def test_an_old_master_key_and_a_pre_rotation_copy_open_nothing_written_after(settings: Settings) -> None:
    """The issue's reproduction: a copy of the data folder (database and master key) taken before
    `keys rotate` decrypted a probe written after it, because the data keys never changed."""
    if sqlite_path(settings.database_url) is None:
        pytest.skip("the copy is of a SQLite data folder")
    store = open_store(settings)
    try:
        dep = enrolled_open_deployment(store)
        image, _ = _image_and_rows(store, dep)
        with store.session() as s:
            before = s.scalars(select(WatchlistTemplate.image_blob)).first()
        assert before is not None
        copy_dir = settings.data_dir.parent / "stolen-copy"
        shutil.copytree(settings.data_dir, copy_dir)
        result = rotate_master_key(store, "admin (admin)")
        assert result.generations_started == 2  # the deployment's watchlist and alerts keys
        with store.session() as s:
            ring = store.keys.get(s, dep, "alerts")
            after = store.blobs.put(dep, ring, b"probe raised after")
        assert ring.current == 1 and generation_of(store.blobs.path(dep, after).read_bytes()) == 1
        with store.session() as s:  # old data still reads
            assert store.blobs.get(dep, before, store.keys.get(s, dep, "watchlist")) == image
        thief = open_store(Settings(data_dir=copy_dir))
        try:
            with thief.sessions() as s:
                old_ring = thief.keys.get(s, dep, "alerts")
            stolen = store.blobs.path(dep, after).read_bytes()
            with pytest.raises(CryptoError, match="generation 1"):
                decrypt(old_ring, stolen, f"{dep}/{after}".encode())
            # --reencrypt moves what was written before under the new generation too (resumable, audited).
            # A run interrupted after moving the image (each file is replaced atomically) ...
            with store.sessions() as s:
                assert store.blobs.reencrypt(dep, before, store.keys.get(s, dep, "watchlist"))
            # ... is run again: it moves only what is left (the template), and then nothing.
            moved = reencrypt_all(store, "admin (admin)")
            assert moved == {f"deployment/{dep}/watchlist": 1}
            assert reencrypt_all(store, "admin (admin)") == {}  # run again: nothing left to do
            with pytest.raises(CryptoError):
                decrypt(old_ring, store.blobs.path(dep, before).read_bytes(), f"{dep}/{before}".encode())
        finally:
            thief.close()
        assert _image_and_rows(store, dep)[0] == image  # re-encrypted, it reads the same
        with store.sessions() as s:
            template = s.scalars(select(WatchlistTemplate.template)).first()
        assert template is not None and generation_of(template) == 1
        rows = audit.entries(store, action="keys.%")
        assert [r.action for r in rows] == [
            "keys.rotate",
            "keys.reencrypt",
            "keys.reencrypt_done",
            "keys.reencrypt_done",
        ]
        assert json.loads(rows[0].details)["data_key_generations_started"] == 2
    finally:
        store.close()


def test_the_central_side_still_reads_a_worker_kit_from_before_a_rotation(store: Store) -> None:
    """A camera worker keeps the alerts key its kit held; after `keys rotate` its alerts must not be dropped
    as tampered (the central side tries each generation, newest first)."""
    from openlfr.governance.bus import encode_alert
    from openlfr.governance.bus_consumer import CentralConsumer
    from openlfr.governance.live_contract import NewAlert

    dep = enrolled_open_deployment(store)
    with store.sessions() as s:
        old_kit_key = store.keys.get(s, dep, "alerts").newest
    rotate_master_key(store, "admin (admin)")
    with store.sessions() as s:
        new_kit_key = store.keys.get(s, dep, "alerts").newest
    assert new_kit_key != old_kit_key
    alert = NewAlert(
        camera_id="cam-1",
        track_id="t1",
        subject_id="s1",
        template_index=0,
        score=0.9,
        threshold=0.5,
        probe_crop=b"probe",
        frame_crop=b"frame",
        observed_at=datetime.now(UTC),
    )
    central = CentralConsumer(store)
    for n, key in enumerate((old_kit_key, new_kit_key)):
        fields = encode_alert(key, dep, f"alert-{n}", alert, "van-1")
        assert central._decode(dep, fields)[2].probe_crop == b"probe"
    forged = encode_alert(b"\x07" * 32, dep, "alert-x", alert, "van-1")
    with pytest.raises(CryptoError):
        central._decode(dep, forged)
