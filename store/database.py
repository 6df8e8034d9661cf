"""One way to open a store's database: a SQLite file path or a SQLAlchemy URL.

Every store (keys, registry, experiments, services, stored responses, the request log) opens its
engine here, so they all get the same behaviour:

- **SQLite** (the default, one file per store under ``data/``): WAL, so readers run beside one
  writer and committed rows survive ``kill -9``; a 10 s busy timeout, so concurrent writers wait
  instead of failing; and SQLAlchemy, not the ``sqlite3`` module, emits ``BEGIN`` (the event hooks
  SQLAlchemy documents for pysqlite), so :func:`write_transaction` can ask for ``BEGIN IMMEDIATE``:
  the write lock is taken before the first read, and read-modify-write loses no update.
- **A server database** (``DATABASE_URL``, e.g. ``postgresql+psycopg://user:pw@host/modelyard``):
  several gateway replicas share every store. Writers serialise on row locks (each store's
  :mod:`store.versions` row, ``SELECT … FOR UPDATE``, increments), not on a file lock.

:func:`store_location` is where a store lives when nobody says: ``DATABASE_URL`` if it is set,
else its own file in the data folder. Passwords in URLs never reach a message (:func:`core.redaction.redacted`).

Example:
    >>> engine = open_engine(tmp_path / "keys.sqlite")
    >>> with write_transaction(engine) as conn:
    ...     _ = conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    >>> engine.dispose()
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import REAL, Double, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeEngine

from core.settings import data_dir

__all__ = [
    "POSTGRES_POOL",
    "REAL_NUMBER",
    "accumulate",
    "database_url",
    "open_engine",
    "store_location",
    "upsert",
    "write_transaction",
]

REAL_NUMBER: TypeEngine[float] = Double().with_variant(REAL(), "sqlite")
"""``REAL`` on SQLite (as the files have always been), ``DOUBLE PRECISION`` on PostgreSQL (its ``REAL``
is single precision: spend would lose cents)."""

_IMMEDIATE = "modelyard_immediate"
"""Execution option: this connection's next transaction starts with ``BEGIN IMMEDIATE`` (SQLite)."""


def database_url(target: Path | str) -> str:
    """A SQLAlchemy URL for ``target``: a URL is kept, a file path becomes ``sqlite:///path`` (its
    folder is created).

    Example:
        >>> database_url("postgresql+psycopg://db/modelyard")
        'postgresql+psycopg://db/modelyard'
        >>> database_url(tmp_path / "keys.sqlite").startswith("sqlite:///")
        True
    """
    if isinstance(target, str) and "://" in target:
        return target
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def store_location(file_name: str, folder: Path | None = None) -> Path | str:
    """Where a store lives unless told: ``DATABASE_URL`` when set (every store in that database),
    else ``file_name`` in ``folder`` (default: the data folder, ``MODELYARD_DATA_DIR``)."""
    return os.environ.get("DATABASE_URL") or (folder or data_dir()) / file_name


POSTGRES_POOL = {"pool_size": 2, "max_overflow": 3, "pool_pre_ping": True}
"""Each store's connection pool on a server database: 2 kept open, 3 more at a burst, each checked before use.

Every store opens its own engine, and a gateway process holds 8 of them (keys, registry, experiments,
services, stored responses, the request log, batches, jobs). SQLAlchemy's default pool (5 kept + 10
overflow) would let one process open 8 × 15 = 120 connections — more than PostgreSQL's default
``max_connections`` of 100 on its own. With 2 + 3: 8 × 2 = 16 connections idle per process and at most
8 × 5 = 40 when every store is busy at once, so 4 processes (say 3 replicas and a worker) hold 64 at
rest, leaving room for bursts, migrations and an operator's ``psql``. Two per store is enough at rest:
a store's calls are short (one statement or one small transaction) and the request log's writer is
one thread; a sixth concurrent caller of one store waits for a free connection (``pool_timeout``, 30 s).
``pool_pre_ping`` replaces a connection the server closed (a restart, an idle timeout) instead of
failing the request that drew it."""


def open_engine(target: Path | str) -> Engine:
    """An engine on ``target`` (a SQLite file path or a SQLAlchemy URL); connects lazily. A server
    database gets a small pool (:data:`POSTGRES_POOL`); SQLite files keep SQLAlchemy's own pool."""
    url = database_url(target)
    options = POSTGRES_POOL if make_url(url).get_backend_name() == "postgresql" else {"pool_pre_ping": True}
    engine = create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction for read-modify-write: ``BEGIN IMMEDIATE`` on SQLite (the file's write lock
    before the first read), a plain transaction elsewhere (writers lock rows). Commits on exit,
    rolls back on an exception."""
    with engine.connect() as conn:
        conn.execution_options(**{_IMMEDIATE: True})
        with conn.begin():
            yield conn


def upsert(table: Table, keys: list[str], dialect: str) -> Insert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` every other column (``INSERT OR REPLACE`` on both
    SQLite and PostgreSQL); call ``.values(...)`` on it, or execute it with a list of rows."""
    insert = _dialect_insert(table, dialect)
    updated = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys}
    statement: Insert = insert.on_conflict_do_update(index_elements=keys, set_=updated)
    return statement


def accumulate(table: Table, keys: list[str], dialect: str) -> Insert:
    """``INSERT … ON CONFLICT (keys) DO UPDATE SET c = c + excluded.c`` for every other column: counters
    that several writers add to (a row's totals grow by the new row's), atomic on both SQLite and
    PostgreSQL. Rows of one statement must have distinct keys; writers that may run at once should send
    them in one order (sorted), so two transactions never wait on each other's rows in a cycle."""
    insert = _dialect_insert(table, dialect)
    added = {c.name: c + insert.excluded[c.name] for c in table.columns if c.name not in keys}
    statement: Insert = insert.on_conflict_do_update(index_elements=keys, set_=added)
    return statement


def _dialect_insert(table: Table, dialect: str) -> Any:
    """The dialect's ``INSERT`` construct, the one that knows ``ON CONFLICT``."""
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None  # sqlite3 emits no BEGIN of its own: _sqlite_begin does
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")
