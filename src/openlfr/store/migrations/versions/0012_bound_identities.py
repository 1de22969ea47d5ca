"""bound identities: users carry a police rank; a deployment records who proposed and who authorised it
(issue 25 item 1)

Revision ID: 0012
Revises: 0010

``auth_users.rank`` is NULL for every existing user: nobody's rank is guessed, so an admin records each
authorising officer's rank (``openlfr user rank USER RANK``) before they can open a deployment.

Deployments keep the officer and rank typed in at planning as ``proposed_officer``/``proposed_role``.
``authorised_by_user`` and ``authorised_rank`` stay NULL for deployments opened before this revision: their
authoriser was never tied to a user, and the published record says so rather than inventing a binding.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("auth_users") as batch:
        batch.add_column(sa.Column("rank", sa.String(length=32), nullable=True))
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("proposed_officer", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("proposed_role", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("authorised_by_user", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("authorised_rank", sa.String(length=32), nullable=True))
    op.execute(
        "UPDATE deployments SET proposed_officer = authorising_officer, proposed_role = authorising_role"
    )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+, PostgreSQL), not batch mode: on SQLite batch mode
    # recreates the table, and dropping ``deployments`` with foreign keys on cascade-deletes its watchlist,
    # alerts and keys (as in 0007).
    for table, name in (
        ("deployments", "authorised_rank"),
        ("deployments", "authorised_by_user"),
        ("deployments", "proposed_role"),
        ("deployments", "proposed_officer"),
        ("auth_users", "rank"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
