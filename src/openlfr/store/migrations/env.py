"""Alembic environment for openlfr's packaged migrations.

``openlfr.store.db.migrate`` runs it programmatically with an open connection (``config.attributes
["connection"]``), so users need no alembic.ini. For developers: ``alembic -x url=sqlite:///x.db`` with
``script_location`` pointing here also works (autogenerate compares with ``Base.metadata``; import the
module defining any new models before autogenerating).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import openlfr.store.auth_models  # users, roles, sessions (API area): registers their tables
import openlfr.store.models  # noqa: F401  (registers the governance tables on Base.metadata)
from openlfr.store.base import Base

target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table copies
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        from openlfr.config import get_settings

        url = get_settings().database_url
    engine = create_engine(url)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("openlfr migrations run online only (they are applied by open_store)")
run_migrations()
