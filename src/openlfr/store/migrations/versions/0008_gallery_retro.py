"""Gallery (custody images, its own data key) and retrospective / operator-initiated search (issue 13).

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-02

Times are naive UTC columns (``openlfr.store.base.UTCDateTime`` converts in Python).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "galleries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("pack", sa.String(length=64), nullable=False),
        sa.Column("embedding_size", sa.Integer(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_galleries")),
        sa.UniqueConstraint("name", name=op.f("uq_galleries_name")),
    )
    op.create_table(
        "retro_cases",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("retain_until", sa.DateTime(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_cases")),
        sa.UniqueConstraint("reference", name=op.f("uq_retro_cases_reference")),
    )
    op.create_table(
        "gallery_templates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("gallery_id", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("custody_date", sa.Date(), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=False),
        sa.Column("image_blob", sa.String(length=64), nullable=False),
        sa.Column("template", sa.LargeBinary(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gallery_id"],
            ["galleries.id"],
            name=op.f("fk_gallery_templates_gallery_id_galleries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gallery_templates")),
        sa.UniqueConstraint("gallery_id", "image_sha256", name="uq_gallery_image"),
    )
    with op.batch_alter_table("gallery_templates", schema=None) as batch_op:
        batch_op.create_index("ix_gallery_templates_record", ["gallery_id", "record_id"], unique=False)

    op.create_table(
        "retro_probes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.String(length=32), nullable=False),
        sa.Column("media_name", sa.Text(), nullable=False),
        sa.Column("media_sha256", sa.String(length=64), nullable=False),
        sa.Column("face_index", sa.Integer(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=True),
        sa.Column("box", sa.JSON(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("probe_blob", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("searched_by", sa.String(length=200), nullable=False),
        sa.Column("searched_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["retro_cases.id"],
            name=op.f("fk_retro_probes_case_id_retro_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_probes")),
    )
    with op.batch_alter_table("retro_probes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retro_probes_case_id"), ["case_id"], unique=False)

    op.create_table(
        "retro_candidates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("probe_id", sa.String(length=32), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(length=200), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("calibration", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["probe_id"],
            ["retro_probes.id"],
            name=op.f("fk_retro_candidates_probe_id_retro_probes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_candidates")),
    )
    with op.batch_alter_table("retro_candidates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retro_candidates_probe_id"), ["probe_id"], unique=False)

    op.create_table(
        "retro_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("candidate_id", sa.String(length=32), nullable=False),
        sa.Column("reviewer", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["retro_candidates.id"],
            name=op.f("fk_retro_decisions_candidate_id_retro_candidates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_decisions")),
        sa.UniqueConstraint("candidate_id", "reviewer", name="uq_retro_decision_reviewer"),
    )
    with op.batch_alter_table("retro_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_retro_decisions_candidate_id"), ["candidate_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("retro_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retro_decisions_candidate_id"))

    op.drop_table("retro_decisions")
    with op.batch_alter_table("retro_candidates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retro_candidates_probe_id"))

    op.drop_table("retro_candidates")
    with op.batch_alter_table("retro_probes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retro_probes_case_id"))

    op.drop_table("retro_probes")
    with op.batch_alter_table("gallery_templates", schema=None) as batch_op:
        batch_op.drop_index("ix_gallery_templates_record")

    op.drop_table("gallery_templates")
    op.drop_table("retro_cases")
    op.drop_table("galleries")
