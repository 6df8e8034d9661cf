"""registry: runtime models, offline deployments, spec changes, as the release before migrations wrote them.

Revision ID: registry_0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = None

REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", REAL, nullable=False),
    )
    op.create_table(
        "offline",
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("deployment", sa.Text, primary_key=True),
        sa.Column("at", REAL, nullable=False),
    )
    op.create_table(
        "changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("at", REAL, nullable=False),
        sa.Column("old_fingerprint", sa.Text),
        sa.Column("new_fingerprint", sa.Text, nullable=False),
        sa.Column("diff", sa.Text, nullable=False),
        sa.Column("breaking", sa.Text, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in ("changes", "offline", "models"):
        op.drop_table(table)
