"""Governance: deployments and their data keys, watchlists, alerts, camera counters, the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Times are naive UTC columns (``openlfr.store.base.UTCDateTime`` converts in Python).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_deployment_id"), ["deployment_id"], unique=False)

    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("authorising_officer", sa.String(length=200), nullable=False),
        sa.Column("cameras", sa.JSON(), nullable=False),
        sa.Column("pack", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("threshold_override_reason", sa.Text(), nullable=True),
        sa.Column("validated_min_threshold", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("watchlist_size_at_close", sa.Integer(), nullable=True),
        sa.Column("watchlist_under_18_at_close", sa.Integer(), nullable=True),
        sa.Column("watchlist_dob_unknown_at_close", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    op.create_table(
        "alerts",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=200), nullable=False),
        sa.Column("track_id", sa.String(length=200), nullable=True),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("template_index", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("probe_blob", sa.String(length=64), nullable=True),
        sa.Column("frame_blob", sa.String(length=64), nullable=True),
        sa.Column("candidate_blob", sa.String(length=64), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("review", sa.String(length=32), nullable=True),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.Column("engagement", sa.String(length=32), nullable=True),
        sa.Column("engaged_by", sa.String(length=200), nullable=True),
        sa.Column("engaged_at", sa.DateTime(), nullable=True),
        sa.Column("engagement_note", sa.Text(), nullable=True),
        sa.Column("disposal", sa.String(length=32), nullable=True),
        sa.Column("disposed_by", sa.String(length=200), nullable=True),
        sa.Column("disposed_at", sa.DateTime(), nullable=True),
        sa.Column("disposal_note", sa.Text(), nullable=True),
        sa.Column("evidence_hold", sa.Boolean(), nullable=False),
        sa.Column("evidence_reason", sa.Text(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_alerts_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_alerts")),
        sa.UniqueConstraint("id", name=op.f("uq_alerts_id")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index("ix_alerts_deployment_seq", ["deployment_id", "seq"], unique=False)

    op.create_table(
        "camera_counters",
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=200), nullable=False),
        sa.Column("faces_seen", sa.Integer(), nullable=False),
        sa.Column("tracks", sa.Integer(), nullable=False),
        sa.Column("frames_processed", sa.Integer(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_camera_counters_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "camera_id", name=op.f("pk_camera_counters")),
    )
    op.create_table(
        "deployment_keys",
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_keys_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "purpose", name=op.f("pk_deployment_keys")),
    )
    op.create_table(
        "watchlist_subjects",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("image_source", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("approved_by", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=False),
        sa.Column("enrolled_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_watchlist_subjects_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_subjects")),
        sa.UniqueConstraint(
            "deployment_id", "subject_id", name=op.f("uq_watchlist_subjects_deployment_id_subject_id")
        ),
    )
    with op.batch_alter_table("watchlist_subjects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_subjects_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "watchlist_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject_pk", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("image_blob", sa.String(length=64), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("embedding_size", sa.Integer(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_watchlist_templates_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_pk"],
            ["watchlist_subjects.id"],
            name=op.f("fk_watchlist_templates_subject_pk_watchlist_subjects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_templates")),
        sa.UniqueConstraint(
            "deployment_id", "image_sha256", name=op.f("uq_watchlist_templates_deployment_id_image_sha256")
        ),
        sa.UniqueConstraint(
            "deployment_id", "position", name=op.f("uq_watchlist_templates_deployment_id_position")
        ),
    )
    with op.batch_alter_table("watchlist_templates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_watchlist_templates_subject_pk"), ["subject_pk"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("watchlist_templates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_templates_subject_pk"))

    op.drop_table("watchlist_templates")
    with op.batch_alter_table("watchlist_subjects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_subjects_deployment_id"))

    op.drop_table("watchlist_subjects")
    op.drop_table("deployment_keys")
    op.drop_table("camera_counters")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_deployment_seq")

    op.drop_table("alerts")
    op.drop_table("deployments")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
