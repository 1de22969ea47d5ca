"""The store: migrations, WAL, timezone-safe times, the master key, data keys and encrypted blobs."""

from __future__ import annotations

import os
import stat
from datetime import datetime

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from openlfr.config import Settings
from openlfr.store import Store, StoreError, open_store
from openlfr.store.crypto import CryptoError, KeyDestroyed, MasterKey, decrypt, encrypt, new_data_key
from openlfr.store.db import alembic_config
from openlfr.store.models import Deployment


def test_migrations_have_one_head_starting_at_0001() -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
    assert scripts.get_revision("0001").down_revision is None  # type: ignore[union-attr]


def test_open_creates_schema_and_reopens(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "deployments",
        "watchlist_subjects",
        "watchlist_templates",
        "alerts",
        "audit_log",
        "deployment_keys",
        "camera_counters",
        "alembic_version",
    } <= tables
    again = open_store(store.settings)  # migrating an up-to-date database is a no-op
    with again.engine.connect() as conn:
        heads = ScriptDirectory.from_config(alembic_config()).get_heads()
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() in heads
    again.close()


def test_sqlite_runs_in_wal_mode(settings: Settings) -> None:
    st = open_store(settings)
    with st.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (settings.data_dir / "openlfr.db").is_file()
    st.close()


def test_unreachable_database_is_a_clear_error(settings: Settings) -> None:
    bad = Settings(
        data_dir=settings.data_dir,
        store={"database_url": "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"},
    )
    with pytest.raises(StoreError, match="cannot open the database") as err:
        open_store(bad)
    assert "secret" not in str(err.value)


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.session() as s:
        s.add(
            Deployment(
                purpose="p",
                location="l",
                starts_at=datetime(2030, 1, 1),
                ends_at=datetime(2030, 1, 2),
                authorising_officer="a",
                cameras=["c"],
                pack="opencv-zoo",
                threshold=0.5,
                created_at=datetime(2030, 1, 1),
                created_by="x",
            )
        )


def test_master_key_is_created_private_and_reused(settings: Settings) -> None:
    mk = MasterKey(settings.master_key_file)
    wrapped = mk.wrap(b"k" * 32, "openlfr/d1/watchlist")
    assert stat.S_IMODE(os.stat(settings.master_key_file).st_mode) == 0o600
    # A second process reads the same key.
    assert MasterKey(settings.master_key_file).unwrap(wrapped, "openlfr/d1/watchlist") == b"k" * 32
    # A wrapped key cannot be moved to another deployment (the label is bound in).
    with pytest.raises(CryptoError):
        mk.unwrap(wrapped, "openlfr/d2/watchlist")


def test_corrupt_master_key_is_a_clear_error(settings: Settings) -> None:
    settings.master_key_file.parent.mkdir(parents=True)
    settings.master_key_file.write_text("not base64 at all!\n")
    with pytest.raises(CryptoError, match="cannot be read as base64"):
        MasterKey(settings.master_key_file).wrap(b"k" * 32, "x")


def test_aes_gcm_detects_tampering_and_wrong_key() -> None:
    key = new_data_key()
    ct = encrypt(key, b"face image bytes", b"d/b")
    assert decrypt(key, ct, b"d/b") == b"face image bytes"
    with pytest.raises(CryptoError):
        decrypt(new_data_key(), ct, b"d/b")
    with pytest.raises(CryptoError):
        decrypt(key, ct[:-1] + bytes([ct[-1] ^ 1]), b"d/b")
    with pytest.raises(CryptoError):
        decrypt(key, ct, b"d/other")


def test_blobs_hold_only_ciphertext_and_cannot_be_swapped(store: Store) -> None:
    key = new_data_key()
    secret = b"\x89PNG this would be a face" * 50
    a = store.blobs.put("dep1", key, secret)
    b = store.blobs.put("dep1", key, b"another image")
    raw = store.blobs.path("dep1", a).read_bytes()
    assert b"this would be a face" not in raw
    assert store.blobs.get("dep1", a, key) == secret
    # Copying one blob's file over another's is detected: the blob id is bound into the ciphertext.
    store.blobs.path("dep1", b).write_bytes(raw)
    with pytest.raises(CryptoError):
        store.blobs.get("dep1", b, key)
    assert store.blobs.delete("dep1", a) and not store.blobs.exists("dep1", a)
    with pytest.raises(ValueError):
        store.blobs.path("../etc", "passwd")


def test_destroyed_data_key_is_gone_for_good(store: Store, clock) -> None:  # type: ignore[no-untyped-def]
    with store.session() as s:
        s.add(
            Deployment(
                id="dep1",
                purpose="p",
                location="l",
                starts_at=clock(),
                ends_at=clock(),
                authorising_officer="a",
                cameras=["c"],
                pack="opencv-zoo",
                threshold=0.5,
                created_at=clock(),
                created_by="x",
            )
        )
        s.flush()
        key = store.keys.create(s, "dep1", "watchlist", clock())
    blob = store.blobs.put("dep1", key, b"reference image")
    saved = store.blobs.path("dep1", blob).read_bytes()  # e.g. a backup copy
    with store.session() as s:
        assert store.keys.get(s, "dep1", "watchlist").keys == {0: key}  # generation 0 only: never rotated
        assert store.keys.destroy(s, "dep1", "watchlist", clock())
    with store.session() as s, pytest.raises(KeyDestroyed, match="destroyed"):
        store.keys.get(s, "dep1", "watchlist")
    # Nothing the store still holds opens the saved copy.
    store.blobs.path("dep1", blob).write_bytes(saved)
    with store.session() as s:
        row_key = s.execute(
            text("SELECT wrapped_key FROM deployment_keys WHERE deployment_id='dep1'")
        ).scalar()
    assert row_key is None
    with pytest.raises(CryptoError):
        store.blobs.get("dep1", blob, new_data_key())


def test_governance_models_match_the_migrations(store: Store) -> None:
    """The tables Alembic creates are the tables the models describe (no drift for autogenerate to find)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import openlfr.store.models as governance
    from openlfr.store.base import Base

    ours = {m.local_table.name for m in Base.registry.mappers if m.class_.__module__ == governance.__name__}
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)

    def table_of(d: object) -> str | None:
        item = d[0] if isinstance(d, list) else d
        for obj in item[1:] if isinstance(item, tuple) else ():
            name = getattr(obj, "name", None) if not isinstance(obj, str) else None
            table = getattr(obj, "table", None)
            if table is not None:
                return str(table.name)
            if name and hasattr(obj, "columns"):
                return str(name)
        for obj in item if isinstance(item, tuple) else ():
            if isinstance(obj, str) and obj in ours:
                return obj
        return None

    mine = [d for d in diff if table_of(d) in ours]
    assert mine == [], mine


def test_revision_0003_adds_the_published_deployment_fields_and_keeps_older_rows(settings: Settings) -> None:
    """A database made at 0002 with a deployment in it migrates to head: the row stays, the new columns are
    empty (the public page then uses its fallbacks), and the migrated schema matches the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from openlfr.store.base import Base
    from openlfr.store.db import make_engine, migrate

    engine = make_engine(settings.database_url)
    migrate(engine, "0002")
    with engine.begin() as conn:
        assert "purpose_category" not in {c["name"] for c in inspect(conn).get_columns("deployments")}
        conn.execute(
            text(
                "INSERT INTO deployments (id, purpose, location, starts_at, ends_at, authorising_officer, cameras, pack, "
                "threshold, status, created_at, created_by) VALUES ('old1', 'p', 'l', '2030-01-01 09:00:00.000000', "
                "'2030-01-01 17:00:00.000000', 'Supt. Old', '[\"c\"]', 'opencv-zoo', 0.5, 'planned', "
                "'2029-12-01 09:00:00.000000', 'planner')"
            )
        )
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT authorising_officer, purpose_category, legal_basis, authorising_role "
                "FROM deployments WHERE id = 'old1'"
            )
        ).one()
        assert tuple(row) == ("Supt. Old", None, None, None)
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert [d for d in diff if "deployments" in repr(d)] == []
    from alembic import command

    with engine.begin() as conn:  # and back: the row survives the downgrade without the new columns
        command.downgrade(alembic_config(conn), "0002")
        assert "legal_basis" not in {c["name"] for c in inspect(conn).get_columns("deployments")}
        assert conn.execute(text("SELECT authorising_officer FROM deployments")).scalar() == "Supt. Old"
    engine.dispose()
