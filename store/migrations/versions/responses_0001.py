"""responses: stored /v1/responses answers, as the release before migrations wrote them.

Revision ID: responses_0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "responses_0001"
down_revision = None
branch_labels = ("responses",)
depends_on = None

REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("created", REAL, nullable=False),
    )
    op.create_index("responses_owner", "responses", ["owner", "id"])
    op.create_index("responses_created", "responses", ["created"])


def downgrade() -> None:
    op.drop_table("responses")
