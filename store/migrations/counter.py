"""The ``store_versions`` change counter's migration steps, shared by every store's ``<store>_0002``.

Frozen like a revision: a later change to the counter is a new revision, not an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["add_counter", "drop_counter"]


def add_counter(store: str) -> None:
    """The ``store_versions`` table (once per database: stores may share one) and ``store``'s row."""
    op.create_table(
        "store_versions",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        if_not_exists=True,
    )
    op.execute(
        sa.text("INSERT INTO store_versions (name, version) VALUES (:name, 0) ON CONFLICT DO NOTHING").bindparams(
            name=store
        )
    )


def drop_counter(store: str) -> None:
    op.execute(sa.text("DELETE FROM store_versions WHERE name = :name").bindparams(name=store))
