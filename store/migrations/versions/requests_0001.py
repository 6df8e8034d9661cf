"""requests: the request log as the release before migrations created it (SQLAlchemy create_all).

Revision ID: requests_0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "requests_0001"
down_revision = None
branch_labels = ("requests",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("endpoint", sa.String(32), nullable=False),
        sa.Column("model", sa.Text),
        sa.Column("deployment", sa.Text),
        sa.Column("route_reason", sa.Text),
        sa.Column("latency_ms", sa.Float),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("cost_usd", sa.Float),
        sa.Column("status", sa.Integer),
        sa.Column("error_class", sa.Text),
        sa.Column("key_id", sa.Text),
        sa.Column("cache", sa.Text),
    )
    op.create_index("requests_ts", "requests", ["ts"])


def downgrade() -> None:
    op.drop_table("requests")
