"""api_keys: the store_versions change counter (replicas see each other's writes on any database).

Revision ID: api_keys_0002
Revises: api_keys_0001
"""

from __future__ import annotations

from store.migrations.counter import add_counter, drop_counter

revision = "api_keys_0002"
down_revision = "api_keys_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_counter("api_keys")


def downgrade() -> None:
    drop_counter("api_keys")
