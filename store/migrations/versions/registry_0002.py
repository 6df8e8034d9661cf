"""registry: the store_versions change counter (replicas see each other's writes on any database).

Revision ID: registry_0002
Revises: registry_0001
"""

from __future__ import annotations

from store.migrations.counter import add_counter, drop_counter

revision = "registry_0002"
down_revision = "registry_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_counter("registry")


def downgrade() -> None:
    drop_counter("registry")
