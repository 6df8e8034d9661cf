"""services: published services, their versions, subscriptions, as the release before migrations wrote them.

Revision ID: services_0001
Revises: None
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "services_0001"
down_revision = None
branch_labels = ("services",)
depends_on = None

REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "services",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("approval", sa.Text, nullable=False),
        sa.Column("limits", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created", REAL, nullable=False),
    )
    op.create_table(
        "service_versions",
        sa.Column("service", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("created", REAL, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("service", sa.Text, nullable=False),
        sa.Column("subscriber", sa.Text, nullable=False),
        sa.Column("key_id", sa.Text, nullable=False, unique=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created", REAL, nullable=False),
        sa.Column("decided_at", REAL),
        sa.Column("decided_by", sa.Text),
        sa.Column("reason", sa.Text),
    )
    op.create_index("subscriptions_service", "subscriptions", ["service"])


def downgrade() -> None:
    for table in ("subscriptions", "service_versions", "services"):
        op.drop_table(table)
