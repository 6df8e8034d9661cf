"""The change counter of a store other processes cache: ``store_versions(name, version)``.

Each write transaction of a counted store (keys, registry, services) starts by adding one to its
row. That does two jobs on any database:

- **change detection**: a replica reads the row (one primary-key SELECT, at most every refresh
  interval) and re-reads the store only when the number moved — what SQLite's ``PRAGMA
  data_version`` did for one file, but for writes from any process on any machine, its own included;
- **a writers' lock**: on PostgreSQL the ``UPDATE`` row-locks the store's row until commit, so the
  store's read-modify-write transactions run one at a time, as ``BEGIN IMMEDIATE`` makes them run
  on SQLite. Every write locks this row first, so two writers never wait on each other in a circle.

The table is created by each counted store's ``<store>_0002`` revision (:mod:`store.migrations`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, MetaData, Table, Text, select, update
from sqlalchemy.engine import Connection

__all__ = ["bump", "current", "store_versions"]

store_versions = Table(
    "store_versions",
    MetaData(),
    Column("name", Text, primary_key=True),
    Column("version", BigInteger, nullable=False),
)


def bump(conn: Connection, store: str) -> None:
    """Count one write of ``store`` (inside the write's transaction: it commits or rolls back with it)."""
    conn.execute(
        update(store_versions).where(store_versions.c.name == store).values(version=store_versions.c.version + 1)
    )


def current(conn: Connection, store: str) -> int:
    """How many writes of ``store`` have committed."""
    return int(conn.execute(select(store_versions.c.version).where(store_versions.c.name == store)).scalar_one())
