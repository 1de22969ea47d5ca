"""retention promise fixed at open, RFR case escalation, data key generations (issue 25 items 2 and 4)

Revision ID: 0013
Revises: 0010

- ``deployments.alert_retention_hours``, ``max_adjudication_hours``, ``escalation_hours``: the retention
  promise, copied from the settings when the deployment opens and published with its record; the purge
  applies it, never the caller's settings. NULL for deployments opened before this revision: the first
  purge after it fixes them from the settings in force then (audited).
- ``retro_cases.escalated_at``, ``escalation_ends_at``: an undecided case past its retention goes to a
  supervisor first, and is kept until the escalation period (fixed when escalated) has passed.
- ``data_key_generations``: the data keys started by each master key rotation (generation 1, 2, ...) for a
  deployment purpose, a gallery or an RFR case; generation 0 stays where it always was.

Times are naive UTC columns (``openlfr.store.base.UTCDateTime`` converts in Python).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("alert_retention_hours", sa.Float(), nullable=True))
        batch.add_column(sa.Column("max_adjudication_hours", sa.Float(), nullable=True))
        batch.add_column(sa.Column("escalation_hours", sa.Float(), nullable=True))
    with op.batch_alter_table("retro_cases") as batch:
        batch.add_column(sa.Column("escalated_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("escalation_ends_at", sa.DateTime(), nullable=True))
    op.create_table(
        "data_key_generations",
        sa.Column("label", sa.String(length=200), primary_key=True),
        sa.Column("generation", sa.Integer(), primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("data_key_generations")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not batch mode: on SQLite batch mode
    # recreates the table, and dropping ``deployments`` with foreign keys on would cascade-delete every
    # watchlist, alert and key row (as in 0007).
    for table, name in (
        ("retro_cases", "escalation_ends_at"),
        ("retro_cases", "escalated_at"),
        ("deployments", "escalation_hours"),
        ("deployments", "max_adjudication_hours"),
        ("deployments", "alert_retention_hours"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
