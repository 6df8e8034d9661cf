"""api_keys: the consumer keys as the release before migrations wrote them (data/keys.sqlite).

Revision ID: api_keys_0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "api_keys_0001"
down_revision = None
branch_labels = ("api_keys",)
depends_on = None

REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("secret_sha256", sa.Text, nullable=False, unique=True),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("allowed_models", sa.Text, nullable=False, server_default="[]"),
        sa.Column("rpm", sa.Integer),
        sa.Column("tpm", sa.Integer),
        sa.Column("budget_usd", REAL),
        sa.Column("spent_usd", REAL, nullable=False, server_default=sa.text("0")),
        sa.Column("created", REAL, nullable=False),
        sa.Column("revoked_at", REAL),
        sa.Column("service", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
