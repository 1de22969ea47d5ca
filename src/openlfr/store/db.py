"""Opening the store: database engine and sessions, migrations, encrypted blobs and data keys.

``open_store(settings)`` is the one entry point. It connects to ``settings.database_url`` (SQLite in WAL
mode in the data directory by default, PostgreSQL when ``OPENLFR_STORE__DATABASE_URL`` says so), brings
the schema to the newest Alembic revision, and returns a :class:`Store`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from openlfr.config import Settings
from openlfr.errors import OpenLFRError
from openlfr.store.base import utcnow
from openlfr.store.blobs import BlobStore, SweepResult, case_blob_folder, gallery_blob_folder, private_dir
from openlfr.store.crypto import CryptoError, KeyDestroyed, KeyRing, MasterKey, new_data_key
from openlfr.store.models import (
    KEY_PURPOSES,
    Alert,
    DataKeyGeneration,
    DeploymentKey,
    Gallery,
    GalleryTemplate,
    RetroCase,
    RetroProbe,
    WatchlistTemplate,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works: it only has to be the same for every openlfr process sharing a PostgreSQL database.
_PG_MIGRATION_LOCK = 0x6F70656E6C6672
_PG_KEY_ROTATION_LOCK = 0x6B6579726F74


class StoreError(OpenLFRError, RuntimeError):
    """The database cannot be opened or migrated (the message says which and why)."""


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling is off so that we can begin transactions ourselves (below).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock at the start: two writers wait for each other (busy_timeout)
        # instead of failing half-way, and the audit chain's "read last row, append" cannot fork.
        # WAL still lets readers of committed data run alongside.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def alembic_config(connection: Any | None = None) -> Config:
    """An Alembic config for the packaged migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: newest)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two processes starting together must not both create the tables.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), revision)


def gallery_key_label(gallery_id: str) -> str:
    """The wrapping label of a custody gallery's data key."""
    return f"openlfr/gallery/{gallery_id}"


def gallery_template_aad(gallery_id: str, sha: str) -> bytes:
    """Associated data binding a gallery template's ciphertext to its gallery and image."""
    return f"gallery/{gallery_id}/template/{sha}".encode()


def case_key_label(case_id: str) -> str:
    """The wrapping label of an RFR case's data key."""
    return f"openlfr/case/{case_id}"


class DataKeys:
    """Per-deployment data keys (one per purpose), wrapped by the master key, stored in the database."""

    def __init__(self, master: MasterKey) -> None:
        self.master = master

    @staticmethod
    def _label(deployment_id: str, purpose: str) -> str:
        if purpose not in KEY_PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        return f"openlfr/{deployment_id}/{purpose}"

    @staticmethod
    def _serialise_with_rotation(session: Session, exclusive: bool) -> None:
        """Key creation and rotation exclude each other, so no key is wrapped under a master key that a
        rotation is replacing: on SQLite the transaction's BEGIN IMMEDIATE does it, on PostgreSQL an
        advisory lock (shared for creation, exclusive for rotation)."""
        conn = session.connection()  # begins the transaction now (SQLite: takes the write lock)
        if conn.dialect.name == "postgresql":
            fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            conn.execute(text(f"SELECT {fn}(:k)"), {"k": _PG_KEY_ROTATION_LOCK})

    def create(self, session: Session, deployment_id: str, purpose: str, now: datetime) -> bytes:
        self._serialise_with_rotation(session, exclusive=False)
        key = new_data_key()
        session.add(
            DeploymentKey(
                deployment_id=deployment_id,
                purpose=purpose,
                wrapped_key=self.master.wrap(key, self._label(deployment_id, purpose)),
                created_at=now,
            )
        )
        return key

    def get(self, session: Session, deployment_id: str, purpose: str) -> KeyRing:
        """The unwrapped key ring (every live generation); :class:`KeyDestroyed` once destroyed. Not cached:
        another process may have destroyed or rotated it since."""
        row = session.get(DeploymentKey, (deployment_id, purpose))
        if row is None:
            raise KeyDestroyed(f"deployment {deployment_id} has no {purpose} key")
        if row.wrapped_key is None:
            raise KeyDestroyed(
                f"the {purpose} key of deployment {deployment_id} was destroyed at {row.destroyed_at:%Y-%m-%d %H:%M} UTC"
                if row.destroyed_at
                else f"the {purpose} key of deployment {deployment_id} was destroyed"
            )
        return self.ring(session, self._label(deployment_id, purpose), row.wrapped_key)

    def ring(self, session: Session, label: str, base_wrapped: bytes) -> KeyRing:
        """Generation 0 (``base_wrapped``, stored where the key always was) and the generations that master
        key rotations started for ``label`` (``data_key_generations``), unwrapped."""
        keys = {0: self.master.unwrap(base_wrapped, label)}
        for gen in session.scalars(
            select(DataKeyGeneration).where(
                DataKeyGeneration.label == label, DataKeyGeneration.wrapped_key.is_not(None)
            )
        ):
            assert gen.wrapped_key is not None
            keys[gen.generation] = self.master.unwrap(gen.wrapped_key, f"{label}#{gen.generation}")
        return KeyRing(keys, max(keys))

    def destroy(self, session: Session, deployment_id: str, purpose: str, now: datetime) -> bool:
        """Forget the key, every generation (the row remains as a record). ``True`` if it was still there."""
        row = session.get(DeploymentKey, (deployment_id, purpose))
        if row is None or row.wrapped_key is None:
            return False
        row.wrapped_key = None
        row.destroyed_at = now
        self.destroy_generations(session, self._label(deployment_id, purpose), now)
        return True

    @staticmethod
    def destroy_generations(session: Session, label: str, now: datetime) -> None:
        """Forget the generations rotations started for ``label`` (with its generation 0, by its owner)."""
        for gen in session.scalars(
            select(DataKeyGeneration).where(
                DataKeyGeneration.label == label, DataKeyGeneration.wrapped_key.is_not(None)
            )
        ):
            gen.wrapped_key = None
            gen.destroyed_at = now

    def rewrap_all(self, session: Session, new_master: MasterKey, now: datetime) -> tuple[int, int]:
        """Re-wrap every live data key (deployments', galleries', RFR cases', every generation) under
        ``new_master`` and start a new generation of each, wrapped only under ``new_master`` (in ``session``'s
        transaction). Returns (keys re-wrapped, generations started)."""
        self._serialise_with_rotation(session, exclusive=True)
        bases: list[tuple[str, Any]] = []  # (label, row whose wrapped_key is generation 0)
        for row in session.scalars(select(DeploymentKey).where(DeploymentKey.wrapped_key.is_not(None))):
            bases.append((self._label(row.deployment_id, row.purpose), row))
        for g in session.scalars(select(Gallery).where(Gallery.wrapped_key.is_not(None))):
            bases.append((gallery_key_label(g.id), g))
        for c in session.scalars(select(RetroCase).where(RetroCase.wrapped_key.is_not(None))):
            bases.append((case_key_label(c.id), c))
        rewrapped = 0
        for label, row in bases:
            row.wrapped_key = new_master.wrap(self.master.unwrap(row.wrapped_key, label), label)
            rewrapped += 1
        newest: dict[str, int] = {}
        for gen in session.scalars(
            select(DataKeyGeneration).where(DataKeyGeneration.wrapped_key.is_not(None))
        ):
            assert gen.wrapped_key is not None
            glabel = f"{gen.label}#{gen.generation}"
            gen.wrapped_key = new_master.wrap(self.master.unwrap(gen.wrapped_key, glabel), glabel)
            newest[gen.label] = max(newest.get(gen.label, 0), gen.generation)
            rewrapped += 1
        for label, _row in bases:
            generation = newest.get(label, 0) + 1
            session.add(
                DataKeyGeneration(
                    label=label,
                    generation=generation,
                    wrapped_key=new_master.wrap(new_data_key(), f"{label}#{generation}"),
                    created_at=now,
                )
            )
        return rewrapped, len(bases)

    def finish_interrupted_rotation(self, session: Session) -> str | None:
        """A rotation killed between its commit and its rename left ``master.key.new``: keep it if the
        database's keys are wrapped under it (the commit happened), else remove it. What was done, or None."""
        pending_path = self.master.pending_path
        if not pending_path.exists():
            return None
        pending = MasterKey(pending_path)
        row = session.scalars(
            select(DeploymentKey).where(DeploymentKey.wrapped_key.is_not(None)).limit(1)
        ).first()
        committed = True
        if row is not None and row.wrapped_key is not None:
            try:
                pending.unwrap(row.wrapped_key, self._label(row.deployment_id, row.purpose))
            except CryptoError:
                committed = False
        if committed:
            self.master.finish_rotation()
            return "finished"
        self.master.abandon_rotation()
        return "undone"

    def live_purposes(self, session: Session, deployment_id: str) -> list[str]:
        rows = session.scalars(
            select(DeploymentKey.purpose).where(
                DeploymentKey.deployment_id == deployment_id, DeploymentKey.wrapped_key.is_not(None)
            )
        )
        return list(rows)


@dataclass
class Store:
    """The open store: what every service is handed."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: DataKeys
    blobs: BlobStore

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an exception.

        Blobs written inside it are staged and moved into place only once it committed (discarded
        otherwise): a crash never leaves a blob in place that no row refers to."""
        with self.blobs.staging() as staged:
            with self.sessions.begin() as session:
                yield session
            self.blobs.promote(staged)

    def referenced_blobs(self) -> set[tuple[str, str]]:
        """Every ``(folder, blob_id)`` a row refers to: watchlist and alert images (folder: the deployment
        id), custody gallery images and RFR case probe crops (their own folders)."""
        with self.sessions() as s:
            refs = {
                (d, b)
                for d, b in s.execute(select(WatchlistTemplate.deployment_id, WatchlistTemplate.image_blob))
            }
            for col in (Alert.probe_blob, Alert.frame_blob, Alert.candidate_blob):
                refs.update(
                    (d, b) for d, b in s.execute(select(Alert.deployment_id, col).where(col.is_not(None)))
                )
            refs.update(
                (gallery_blob_folder(g), b)
                for g, b in s.execute(select(GalleryTemplate.gallery_id, GalleryTemplate.image_blob))
            )
            refs.update(
                (case_blob_folder(c), b)
                for c, b in s.execute(
                    select(RetroProbe.case_id, RetroProbe.probe_blob).where(
                        RetroProbe.probe_blob.is_not(None)
                    )
                )
            )
        return refs

    def key_ring(self, label: str, base_wrapped: bytes | None) -> KeyRing:
        """A gallery's or RFR case's key ring (generation 0 wrapped in its own row)."""
        if base_wrapped is None:
            raise KeyDestroyed(f"the data key {label} was destroyed")
        with self.sessions() as s:
            return self.keys.ring(s, label, base_wrapped)

    def sweep_blobs(self) -> SweepResult:
        """Tidy the blob folder (see :meth:`BlobStore.sweep`); the caller audits the counts."""
        return self.blobs.sweep(self.referenced_blobs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    def rotate_master_key(self, on_commit: Callable[[Session, int, int], None]) -> int:
        """Re-wrap every deployment key under a new master key; the number of keys re-wrapped.

        The new key is written beside the old one (``master.key.new``, 0600), every data key is re-wrapped
        in one transaction that also starts a new generation of every data key (wrapped only under the new
        master key) and in which ``on_commit(session, count, generations)`` records the audit row; then the new file
        is renamed over the old one, so the old master key no longer exists here. A crash between the
        commit and the rename is finished (or undone, had the commit not happened) at the next open."""
        master = self.keys.master
        started = False
        try:
            with self.session() as s:
                # Lock out key creation first, so no key is being wrapped under the old master key while
                # the new one appears.
                self.keys._serialise_with_rotation(s, exclusive=True)
                new_master = master.start_rotation()
                started = True
                count, generations = self.keys.rewrap_all(s, new_master, utcnow())
                on_commit(s, count, generations)
        except BaseException:
            if started:
                # Whether the commit happened decides which key file stays (never guess: the wrong choice
                # would lose every key); if the database cannot say now, the next open decides.
                with contextlib.suppress(Exception), self.session() as s:
                    self.keys.finish_interrupted_rotation(s)
            raise
        master.finish_rotation()
        return count


SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for another database or an in-memory one)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


def secure_sqlite_files(db: Path) -> None:
    """Create the database file 0600 if it is new (SQLite gives its WAL and SHM files the database's
    mode), and make the file and its WAL/SHM/journal 0600 if they exist with a wider mode."""
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in SQLITE_FILE_SUFFIXES:
        f = db.with_name(db.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if f.stat().st_mode & 0o077:
                os.chmod(f, 0o600)


def open_store(settings: Settings, *, migrate_schema: bool = True) -> Store:
    """Connect, migrate to the newest schema, and return the store for ``settings``.

    The data directory and the blob folder are made 0700, the SQLite database and its WAL/SHM 0600,
    whatever the umask (they hold names, dates of birth, password hashes and the audit log)."""
    url = settings.database_url
    db_file = sqlite_path(url)
    try:
        private_dir(settings.data_dir)
    except OSError as exc:
        log.warning("cannot make the data directory %s private (0700): %s", settings.data_dir, exc)
    try:
        if db_file is not None:
            secure_sqlite_files(db_file)
        engine = make_engine(url)
        if migrate_schema:
            migrate(engine)
        if db_file is not None:
            secure_sqlite_files(db_file)
    except Exception as exc:  # connection refused, bad URL, permission denied: say which database
        safe = make_url(url).render_as_string(hide_password=True) if "://" in url else url
        raise StoreError(f"cannot open the database {safe}: {exc}") from exc
    private_dir(settings.blob_dir)
    store = Store(
        settings=settings,
        engine=engine,
        # The settings ride along so that the audit log finds its key and checkpoint log (outside the DB).
        sessions=sessionmaker(engine, expire_on_commit=False, info={"openlfr.settings": settings}),
        keys=DataKeys(MasterKey(settings.master_key_file)),
        blobs=BlobStore(settings.blob_dir),
    )
    if store.keys.master.pending_path.exists():
        with store.session() as s:
            done = store.keys.finish_interrupted_rotation(s)
        log.warning("an interrupted master key rotation was %s", done)
    return store
