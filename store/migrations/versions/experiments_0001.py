"""experiments: A/B outcomes, feedback and status, as the release before migrations wrote them.

Revision ID: experiments_0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "experiments_0001"
down_revision = None
branch_labels = ("experiments",)
depends_on = None

REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ab_events",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("experiment", sa.Text, nullable=False),
        sa.Column("arm", sa.Text, nullable=False),
        sa.Column("at", REAL, nullable=False),
        sa.Column("latency", REAL),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cost", REAL),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "ab_feedback",
        sa.Column("request_id", sa.Text, primary_key=True),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("at", REAL, nullable=False),
    )
    op.create_table(
        "ab_status",
        sa.Column("experiment", sa.Text, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("at", REAL, nullable=False),
    )


def downgrade() -> None:
    for table in ("ab_status", "ab_feedback", "ab_events"):
        op.drop_table(table)
