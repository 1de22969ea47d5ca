"""watchlist templates: attraction offset (a template's own higher threshold, issue 12 item 2)

Revision ID: 0004
Revises: 0003

A reference template that attracts a reference crowd of strangers at enrolment gets an offset: its scores
are lowered by it before they are compared with the deployment's threshold. NULL means the check did not
run (no reference crowd), which is what every existing template gets (their scores are unchanged).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watchlist_templates") as batch:
        batch.add_column(sa.Column("attraction_offset", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watchlist_templates") as batch:
        batch.drop_column("attraction_offset")
