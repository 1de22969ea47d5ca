"""Revision 0012 (issue 25): users gain a rank (none guessed), deployments keep what planning typed in as a
proposal, and a deployment opened before it says its authoriser was entered, not bound to a user."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from openlfr.config import Settings
from openlfr.governance.deployments import get_deployment
from openlfr.governance.report import deployment_record
from openlfr.store import open_store
from openlfr.store.base import Base
from openlfr.store.db import make_engine, migrate
from tests.store.db_fixtures import *  # noqa: F403
from tests.store.test_migration_0007 import OLD_DEPLOYMENT

OLD_USER = (
    "INSERT INTO auth_users (id, username, display_name, role, password_hash, active, created_at) VALUES "
    "(1, 'supt', 'Supt. Old', 'authorising_officer', '!', :yes, '2029-12-01 09:00:00.000000')"
)


def test_revision_0012_keeps_the_typed_authoriser_as_a_proposal(store_settings: Settings) -> None:
    engine = make_engine(store_settings.database_url)
    migrate(engine, "0010")
    with engine.begin() as conn:
        conn.execute(text(OLD_DEPLOYMENT))
        conn.execute(text(OLD_USER), {"yes": True})
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT proposed_officer, proposed_role, authorised_by_user, authorised_rank FROM deployments"
            )
        ).one()
        assert tuple(row) == ("Supt. Old", "Supt", None, None)
        assert conn.execute(text("SELECT rank FROM auth_users")).scalar_one() is None  # never guessed
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert [d for d in diff if any(t in repr(d) for t in ("deployments", "auth_users"))] == []
    engine.dispose()
    store = open_store(store_settings)
    try:
        dep = get_deployment(store, "old1")
        assert not dep.authorisation_bound
        rec = deployment_record(store, "old1")
        assert (
            rec["authorised_by_role"] == "Supt"
            and "as entered when the deployment was planned" in (rec["authorisation"])
        )
    finally:
        store.close()
