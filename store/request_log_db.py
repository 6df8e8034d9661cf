"""SQL of the request log (``data/requests.sqlite``): one row per gateway call, no prompt bodies."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from store.sqlite import connect, write_transaction

__all__ = ["COLUMNS", "RequestLogDB"]

COLUMNS = (
    "id",
    "ts",
    "endpoint",
    "model",
    "deployment",
    "route_reason",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "status",
    "error_class",
    "key_id",
    "cache",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY, ts REAL NOT NULL, endpoint TEXT NOT NULL, model TEXT, deployment TEXT,
    route_reason TEXT, latency_ms REAL, ttft_ms REAL, input_tokens INTEGER, output_tokens INTEGER,
    cost_usd REAL, status INTEGER, error_class TEXT, key_id TEXT, cache TEXT);
CREATE INDEX IF NOT EXISTS requests_ts ON requests (ts);
"""

_ADDED_COLUMNS = {"key_id": "TEXT", "cache": "TEXT"}
"""Columns added after the first release: a log written by an older version gets them on open."""


class RequestLogDB:
    """Writes batches of rows and summarises them per model.

    Args:
        path: the SQLite file (created with its table if missing).
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = connect(path)
        self.conn.executescript(_SCHEMA)
        present = {row["name"] for row in self.conn.execute("PRAGMA table_info(requests)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                self.conn.execute(f"ALTER TABLE requests ADD COLUMN {column} {kind}")

    def insert(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert rows (tuples in :data:`COLUMNS` order) in one transaction."""
        marks = ", ".join("?" for _ in COLUMNS)
        with write_transaction(self.conn):
            self.conn.executemany(
                f"INSERT OR REPLACE INTO requests ({', '.join(COLUMNS)}) VALUES ({marks})", list(rows)
            )

    def rows(self, since: float, until: float) -> list[dict[str, Any]]:
        """Every row logged in ``[since, until]``, oldest first."""
        cursor = self.conn.execute(
            "SELECT * FROM requests WHERE ts BETWEEN ? AND ? ORDER BY ts", (since, until)
        )
        return [dict(row) for row in cursor]

    def usage(self, since: float, until: float, key_id: str | None = None) -> list[dict[str, Any]]:
        """Totals per (key, model) over ``[since, until]`` (epoch seconds).

        ``key_id`` limits the rows to one consumer key (what that key may see of the log).
        """
        where, args = "ts BETWEEN ? AND ?", [since, until]
        if key_id is not None:
            where, args = where + " AND COALESCE(key_id, '') = ?", [*args, key_id]
        cursor = self.conn.execute(
            f"""SELECT COALESCE(key_id, '') AS key_id, COALESCE(model, '-') AS model, COUNT(*) AS requests,
                      SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
                      COALESCE(SUM(input_tokens), 0) AS input_tokens,
                      COALESCE(SUM(output_tokens), 0) AS output_tokens,
                      COALESCE(SUM(cost_usd), 0.0) AS cost_usd,
                      AVG(latency_ms) AS avg_latency_ms, AVG(ttft_ms) AS avg_ttft_ms
               FROM requests WHERE {where}
               GROUP BY COALESCE(key_id, ''), model ORDER BY requests DESC""",
            args,
        )
        return [dict(row) for row in cursor]

    def close(self) -> None:
        self.conn.close()
