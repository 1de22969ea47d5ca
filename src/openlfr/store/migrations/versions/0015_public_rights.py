"""the public's side (issue 27): stopped person's reference, outcome detail, objectives, complaints

Revision ID: 0015
Revises: 0010

Alerts get the reference printed on a stopped person's leaflet and the detail of the disposal (arrest for
the watchlist reason, other offences, use of force, the encrypted custody or crime reference); deployments
get their stated objective, success measures and the force they are run for; two new tables hold the data
protection role's handling of subject requests and the complaints register (counts only are published).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN and a unique index, never batch mode: on SQLite batch mode recreates the table, and
    # dropping ``alerts`` or ``deployments`` with foreign keys on cascade-deletes their children (as in 0007).
    for name, type_ in (
        ("engagement_reference", sa.String(length=16)),
        ("arrest_for_watchlist_reason", sa.Boolean()),
        ("other_offences", sa.JSON()),
        ("use_of_force", sa.Boolean()),
        ("custody_reference", sa.LargeBinary()),
    ):
        op.add_column("alerts", sa.Column(name, type_, nullable=True))
    op.create_index("ix_alerts_engagement_reference", "alerts", ["engagement_reference"], unique=True)
    for name, type_ in (
        ("objective", sa.Text()),
        ("success_measures", sa.JSON()),
        ("on_behalf_of", sa.Text()),
        ("on_behalf_of_controller", sa.Text()),
    ):
        op.add_column("deployments", sa.Column(name, type_, nullable=True))
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("handled_at", sa.DateTime(), nullable=False),
        sa.Column("handled_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_requests")),
    )
    op.create_index("ix_subject_requests_deployment_id", "subject_requests", ["deployment_id"])
    op.create_index("ix_subject_requests_handled_at", "subject_requests", ["handled_at"])
    op.create_table(
        "complaints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=True),
        sa.Column("engagement_reference", sa.String(length=16), nullable=True),
        sa.Column("external_ref", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("outcome_at", sa.DateTime(), nullable=True),
        sa.Column("outcome_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"])
    op.create_index("ix_complaints_deployment_id", "complaints", ["deployment_id"])


def downgrade() -> None:
    op.drop_index("ix_complaints_deployment_id", "complaints")
    op.drop_index("ix_complaints_received_at", "complaints")
    op.drop_table("complaints")
    op.drop_index("ix_subject_requests_handled_at", "subject_requests")
    op.drop_index("ix_subject_requests_deployment_id", "subject_requests")
    op.drop_table("subject_requests")
    op.drop_index("ix_alerts_engagement_reference", "alerts")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not batch mode (see upgrade).
    for table, name in (
        ("deployments", "on_behalf_of_controller"),
        ("deployments", "on_behalf_of"),
        ("deployments", "success_measures"),
        ("deployments", "objective"),
        ("alerts", "custody_reference"),
        ("alerts", "use_of_force"),
        ("alerts", "other_offences"),
        ("alerts", "arrest_for_watchlist_reason"),
        ("alerts", "engagement_reference"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
