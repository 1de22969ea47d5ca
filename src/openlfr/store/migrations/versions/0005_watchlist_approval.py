"""watchlist subjects: second-person approval (issue 14 item 2)

Revision ID: 0005
Revises: 0003

An entry enrolled through the API, the console or the command line waits for a second person's approval
before it is searched. Entries stored before this revision were enrolled under the old rule and stay
active (``pending_approval`` false).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watchlist_subjects") as batch:
        batch.add_column(
            sa.Column("pending_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("approved_by_user", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("approved_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watchlist_subjects") as batch:
        batch.drop_column("approved_at")
        batch.drop_column("approved_by_user")
        batch.drop_column("pending_approval")
