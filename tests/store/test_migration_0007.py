"""Revision 0007 (issue 15) carries existing deployments and alerts forward, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from openlfr.api.public import public_deployment
from openlfr.config import Settings
from openlfr.governance.deployments import get_deployment
from openlfr.governance.report import deployment_record
from openlfr.governance.retention import purge
from openlfr.store import open_store
from openlfr.store.base import Base
from openlfr.store.db import alembic_config, make_engine, migrate
from tests.store.db_fixtures import *  # noqa: F403

OLD_DEPLOYMENT = (
    "INSERT INTO deployments (id, purpose, location, starts_at, ends_at, authorising_officer, cameras, pack, "
    "threshold, status, created_at, created_by, purpose_category, legal_basis, authorising_role) VALUES "
    "('old1', 'p', 'l', '2030-01-01 09:00:00.000000', '2030-01-01 17:00:00.000000', 'Supt. Old', '[\"c\"]', "
    "'opencv-zoo', 0.5, 'open', '2029-12-01 09:00:00.000000', 'planner', 'wanted_offenders', 'b', 'Supt')"
)
OLD_ALERT = (
    "INSERT INTO alerts (id, deployment_id, camera_id, score, threshold, observed_at, raised_at, evidence_hold, "
    "evidence_reason) VALUES ('a1', 'old1', 'c', 0.7, 0.5, '2030-01-01 10:00:00', '2030-01-01 10:00:00', "
    ":held, 'court case')"
)


def test_revision_0007_carries_deployments_forward_with_phase_unknown(store_settings: Settings) -> None:
    engine = make_engine(store_settings.database_url)
    migrate(engine, "0003")
    with engine.begin() as conn:
        assert "phase" not in {c["name"] for c in inspect(conn).get_columns("deployments")}
        conn.execute(text(OLD_DEPLOYMENT))
        conn.execute(text(OLD_ALERT), {"held": True})
    migrate(engine)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT phase, dpia_ref, signage_in_place_at FROM deployments")).one()
        assert tuple(row) == ("unknown", None, None)
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert [d for d in diff if any(t in repr(d) for t in ("deployments", "alerts", "watchlist"))] == []
    engine.dispose()

    store = open_store(store_settings)
    try:
        dep = get_deployment(store, "old1")
        assert dep.phase == "unknown" and "not recorded" in dep.phase_label  # stated as unknown
        view = public_deployment(store, dep)
        assert "not recorded" in view["phase"] and view["dpia_ref"] == "not recorded"
        assert deployment_record(store, "old1")["phase"] == dep.phase_label
        # The old evidence hold gets a review date from the first purge, rather than lapsing at once.
        report = purge(store, clock=lambda: datetime(2030, 1, 1, 12, tzinfo=UTC))
        assert report.kept_as_evidence == [] and report.evidence_lapsed == []
        with store.session() as s:
            review = s.execute(text("SELECT evidence_review_at, evidence_hold FROM alerts")).one()
        assert review[0] is not None and review[1]
    finally:
        store.close()

    engine = make_engine(store_settings.database_url)
    with engine.begin() as conn:  # and back: the rows survive the downgrade without the new columns
        command.downgrade(alembic_config(conn), "0003")
        assert "phase" not in {c["name"] for c in inspect(conn).get_columns("deployments")}
        assert conn.execute(text("SELECT authorising_officer FROM deployments")).scalar() == "Supt. Old"
        assert conn.execute(text("SELECT evidence_reason FROM alerts")).scalar() == "court case"
    engine.dispose()
