"""watchlist templates: which offset rule gave the template its offset (issue 12, round 5)

Revision ID: 0010
Revises: 0009

A calibration now validates a minimum under each offset rule (``matching/attraction.OFFSET_RULES``), and a
watchlist is held to the minimum of the rules its templates got. Every template checked before this
revision got the ``attractors`` rule; NULL stays NULL (no check ran).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watchlist_templates") as batch:
        batch.add_column(sa.Column("offset_rule", sa.String(length=16), nullable=True))
    op.execute(
        "UPDATE watchlist_templates SET offset_rule = 'attractors' WHERE attraction_offset IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("watchlist_templates") as batch:
        batch.drop_column("offset_rule")
