"""Opening the store: database engine and sessions, migrations, encrypted blobs and data keys.

``open_store(settings)`` is the one entry point. It connects to ``settings.database_url`` (SQLite in WAL
mode in the data directory by default, PostgreSQL when ``OPENLFR_STORE__DATABASE_URL`` says so), brings
the schema to the newest Alembic revision, and returns a :class:`Store`.
"""

from __future__ import annotations

from collections.abc import Iterator
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
from openlfr.store.blobs import BlobStore
from openlfr.store.crypto import KeyDestroyed, MasterKey, new_data_key
from openlfr.store.models import KEY_PURPOSES, DeploymentKey

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant works: it only has to be the same for every openlfr process sharing a PostgreSQL database.
_PG_MIGRATION_LOCK = 0x6F70656E6C6672


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


class DataKeys:
    """Per-deployment data keys (one per purpose), wrapped by the master key, stored in the database."""

    def __init__(self, master: MasterKey) -> None:
        self.master = master

    @staticmethod
    def _label(deployment_id: str, purpose: str) -> str:
        if purpose not in KEY_PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        return f"openlfr/{deployment_id}/{purpose}"

    def create(self, session: Session, deployment_id: str, purpose: str, now: datetime) -> bytes:
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

    def get(self, session: Session, deployment_id: str, purpose: str) -> bytes:
        """The unwrapped key; :class:`KeyDestroyed` once destroyed. Not cached: another process may have
        destroyed it since."""
        row = session.get(DeploymentKey, (deployment_id, purpose))
        if row is None:
            raise KeyDestroyed(f"deployment {deployment_id} has no {purpose} key")
        if row.wrapped_key is None:
            raise KeyDestroyed(
                f"the {purpose} key of deployment {deployment_id} was destroyed at {row.destroyed_at:%Y-%m-%d %H:%M} UTC"
                if row.destroyed_at
                else f"the {purpose} key of deployment {deployment_id} was destroyed"
            )
        return self.master.unwrap(row.wrapped_key, self._label(deployment_id, purpose))

    def destroy(self, session: Session, deployment_id: str, purpose: str, now: datetime) -> bool:
        """Forget the key (the row remains as a record). ``True`` if it was still there."""
        row = session.get(DeploymentKey, (deployment_id, purpose))
        if row is None or row.wrapped_key is None:
            return False
        row.wrapped_key = None
        row.destroyed_at = now
        return True

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
        """One transaction: committed when the block ends, rolled back on an exception."""
        with self.sessions.begin() as session:
            yield session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()


def open_store(settings: Settings, *, migrate_schema: bool = True) -> Store:
    """Connect, migrate to the newest schema, and return the store for ``settings``."""
    url = settings.database_url
    try:
        engine = make_engine(url)
        if migrate_schema:
            migrate(engine)
    except Exception as exc:  # connection refused, bad URL, permission denied: say which database
        safe = make_url(url).render_as_string(hide_password=True) if "://" in url else url
        raise StoreError(f"cannot open the database {safe}: {exc}") from exc
    settings.blob_dir.mkdir(parents=True, exist_ok=True)
    return Store(
        settings=settings,
        engine=engine,
        sessions=sessionmaker(engine, expire_on_commit=False),
        keys=DataKeys(MasterKey(settings.master_key_file)),
        blobs=BlobStore(settings.blob_dir),
    )
