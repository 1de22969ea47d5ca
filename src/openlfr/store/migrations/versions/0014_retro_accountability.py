"""RFR/OIFR under the same accountability as LFR (issue 26)

Revision ID: 0014
Revises: 0010

- ``retro_cases``: policy and DPIA references, crime category, and who closed the case early, when and why.
- ``retro_probes``: where the searched media came from (closed list ``MEDIA_PROVENANCE``) and why more than
  the chosen person was searched (``all_faces_reason``, NULL when only the person of interest was).
- ``retro_candidates``: the investigation's outcome on a reported possible match.
- ``gallery_templates``: flags of a custody image kept despite several faces or low quality.
- ``oifr_searches``: one row per operator-initiated search (officer, reason, time, the records shown) and
  the officer's recorded conclusion; never the face.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from openlfr.store.base import UTCDateTime

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("retro_cases") as batch:
        batch.add_column(sa.Column("policy_ref", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("dpia_ref", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("crime_category", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("close_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("retro_probes") as batch:
        batch.add_column(sa.Column("provenance", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("all_faces_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("retro_candidates") as batch:
        batch.add_column(sa.Column("investigation", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("investigation_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("investigation_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("gallery_templates") as batch:
        batch.add_column(sa.Column("flags", sa.JSON(), nullable=True))
    op.create_table(
        "oifr_searches",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("gallery", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("officer", sa.String(length=200), nullable=False),
        sa.Column("searched_at", UTCDateTime(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("outcome_record", sa.String(length=200), nullable=True),
        sa.Column("outcome_by", sa.String(length=200), nullable=True),
        sa.Column("outcome_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_oifr_searches_searched_at", "oifr_searches", ["searched_at"])


def downgrade() -> None:
    op.drop_index("ix_oifr_searches_searched_at", table_name="oifr_searches")
    op.drop_table("oifr_searches")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not batch mode: on SQLite batch mode
    # recreates the table, and dropping ``retro_cases`` or ``retro_probes`` with foreign keys on would
    # cascade-delete their probes, candidate lists and decisions.
    for table, name in (
        ("gallery_templates", "flags"),
        ("retro_candidates", "investigation_at"),
        ("retro_candidates", "investigation_by"),
        ("retro_candidates", "investigation"),
        ("retro_probes", "all_faces_reason"),
        ("retro_probes", "provenance"),
        ("retro_cases", "close_reason"),
        ("retro_cases", "closed_at"),
        ("retro_cases", "closed_by"),
        ("retro_cases", "crime_category"),
        ("retro_cases", "dpia_ref"),
        ("retro_cases", "policy_ref"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
