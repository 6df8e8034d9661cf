"""One store's database handle: opened on a path or URL, migrated to its schema, its writes counted.

Every SQL store (keys, registry, experiments, services, stored responses) holds a :class:`StoreEngine`
instead of a connection: SQLAlchemy's pool gives each thread its own connection, so the stores need no
lock of their own, and the same Core statements run on SQLite and PostgreSQL.

Example:
    >>> tables = StoreEngine(tmp_path / "keys.sqlite", "api_keys")
    >>> with tables.write() as conn:
    ...     _ = conn.exec_driver_sql("DELETE FROM api_keys")
    >>> tables.version()
    1
    >>> tables.close()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Table
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.dml import Insert

from store import versions
from store.database import open_engine, upsert, write_transaction
from store.migrations import SCHEMAS, migrate

__all__ = ["StoreEngine"]


class StoreEngine:
    """``store``'s tables in ``target`` (a SQLite file path or a SQLAlchemy URL).

    Args:
        target: where the store lives (created and migrated to the store's head if needed).
        store: the store's name in :data:`store.migrations.SCHEMAS`.
    """

    def __init__(self, target: Path | str, store: str):
        self.store = store
        self.counted = SCHEMAS[store].counted
        self.engine: Engine = open_engine(target)
        migrate(self.engine, store)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``: the few statements that differ (upserts) are built for it."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads (its snapshot ends with the block)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` on SQLite; on every database a counted store first
        bumps its :mod:`store.versions` row (its change counter and, on PostgreSQL, its writers' lock)."""
        with write_transaction(self.engine) as conn:
            if self.counted:
                versions.bump(conn, self.store)
            yield conn

    def version(self) -> int:
        """How many writes of a counted store have committed, from any process."""
        with self.engine.connect() as conn:
            return versions.current(conn, self.store)

    def upsert(self, table: Table, keys: list[str]) -> Insert:
        """``INSERT … ON CONFLICT (keys) DO UPDATE`` for this database (``INSERT OR REPLACE``)."""
        return upsert(table, keys, self.dialect)

    def close(self) -> None:
        self.engine.dispose()
