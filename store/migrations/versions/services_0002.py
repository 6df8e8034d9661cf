"""services: the store_versions change counter (replicas see each other's writes on any database).

Revision ID: services_0002
Revises: services_0001
"""

from __future__ import annotations

from store.migrations.counter import add_counter, drop_counter

revision = "services_0002"
down_revision = "services_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_counter("services")


def downgrade() -> None:
    drop_counter("services")
