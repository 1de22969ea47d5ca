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
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("engagement_reference", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("arrest_for_watchlist_reason", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("other_offences", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("use_of_force", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("custody_reference", sa.LargeBinary(), nullable=True))
        batch.create_unique_constraint("uq_alerts_engagement_reference", ["engagement_reference"])
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("objective", sa.Text(), nullable=True))
        batch.add_column(sa.Column("success_measures", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("on_behalf_of", sa.Text(), nullable=True))
        batch.add_column(sa.Column("on_behalf_of_controller", sa.Text(), nullable=True))
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
    with op.batch_alter_table("deployments") as batch:
        for name in ("on_behalf_of_controller", "on_behalf_of", "success_measures", "objective"):
            batch.drop_column(name)
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_engagement_reference", type_="unique")
        for name in (
            "custody_reference",
            "use_of_force",
            "other_offences",
            "arrest_for_watchlist_reason",
            "engagement_reference",
        ):
            batch.drop_column(name)
