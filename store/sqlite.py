"""Opening SQLite the way every Modelyard store needs it: WAL, a busy timeout, autocommit.

WAL lets readers run beside one writer and keeps committed data intact across ``kill -9``;
``busy_timeout`` makes concurrent writers (threads or processes) wait instead of failing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["connect", "write_transaction"]


def connect(path: Path | str) -> sqlite3.Connection:
    """A connection in autocommit mode with WAL and a 10 s busy timeout."""
    conn = sqlite3.connect(str(path), timeout=10, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``: read-modify-write without lost updates."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
