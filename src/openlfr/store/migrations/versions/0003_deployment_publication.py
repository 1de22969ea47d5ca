"""deployments: purpose category, legal basis summary and authorising role (published, issue 8 §3)

Revision ID: 0003
Revises: 0002

The columns are nullable so that deployments recorded before this revision stay valid: the public page
then falls back to ``server.legal_basis_summary`` and a generic role. New deployments must give all three.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("purpose_category", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("legal_basis", sa.Text(), nullable=True))
        batch.add_column(sa.Column("authorising_role", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("authorising_role")
        batch.drop_column("legal_basis")
        batch.drop_column("purpose_category")
