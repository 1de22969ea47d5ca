"""issue 15: notice and signage, trial or operational, assessments, data controller and contact, engagement
facts, bounded keeping, watchlist composition frozen at close, offence seriousness

Revision ID: 0007
Revises: 0003

Existing deployments are carried forward: ``phase`` is set to "unknown" (published as "not recorded"), the
assessment references, data controller and contact stay empty (the public page says they were not recorded,
falling back to ``server.contact`` where set), and no signage step is invented for them. Existing alerts keep
their decisions; whether the reason was explained and the leaflet given is unknown (NULL), and an evidence
hold already in place gets a review date ``retention.evidence_review_days`` from the first purge run after
the upgrade (the purge sets it, audited), rather than lapsing at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DEPLOYMENT_TEXT = (
    "dpia_ref",
    "eia_ref",
    "policy_ref",
    "intelligence_case",
    "data_controller",
    "public_contact",
    "short_notice_reason",
)


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("phase", sa.String(length=16), nullable=True))
        for name in _DEPLOYMENT_TEXT:
            batch.add_column(sa.Column(name, sa.Text(), nullable=True))
        batch.add_column(sa.Column("signage_in_place_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("signage_in_place_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("watchlist_composition_at_close", sa.JSON(), nullable=True))
    op.execute("UPDATE deployments SET phase = 'unknown' WHERE phase IS NULL")
    with op.batch_alter_table("watchlist_subjects") as batch:
        batch.add_column(sa.Column("offence_seriousness", sa.String(length=32), nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("reason_explained", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("leaflet_given", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("evidence_review_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("evidence_renewals", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("evidence_lapsed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("purge_reason", sa.String(length=32), nullable=True))


def _drop(table: str, names: Sequence[str]) -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not batch mode: on SQLite batch mode
    # recreates the table, and dropping ``deployments`` with foreign keys on would cascade-delete every
    # watchlist, alert and key row of every deployment (tests/store/test_migration_0007.py).
    for name in names:
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")


def downgrade() -> None:
    _drop(
        "alerts",
        (
            "purge_reason",
            "evidence_lapsed_at",
            "evidence_renewals",
            "evidence_review_at",
            "escalated_at",
            "leaflet_given",
            "reason_explained",
        ),
    )
    _drop("watchlist_subjects", ("offence_seriousness",))
    _drop(
        "deployments",
        (
            "watchlist_composition_at_close",
            "signage_in_place_by",
            "signage_in_place_at",
            *reversed(_DEPLOYMENT_TEXT),
            "phase",
        ),
    )
