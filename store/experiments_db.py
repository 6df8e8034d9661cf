"""SQLite tables for A/B experiments: one row per routed request, user feedback, status.

Rows of routed requests (and their feedback) are deleted by age with :meth:`ExperimentsDB.prune`,
which :class:`routers.experiments.Experiments` calls from its writer thread.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from store.sqlite import connect, write_transaction

__all__ = ["ExperimentsDB"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ab_events (
    request_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, arm TEXT NOT NULL, at REAL NOT NULL,
    latency REAL, input_tokens INTEGER, output_tokens INTEGER, cost REAL, error TEXT);
CREATE TABLE IF NOT EXISTS ab_feedback (
    request_id TEXT PRIMARY KEY, score INTEGER NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ab_status (
    experiment TEXT PRIMARY KEY, status TEXT NOT NULL, at REAL NOT NULL);
"""


class ExperimentsDB:
    """Reads and writes the ``ab_*`` tables.

    Args:
        path: the SQLite file (created with its tables if missing).

    Example:
        >>> db = ExperimentsDB(tmp_path / "ab.sqlite")
        >>> db.add_event("r1", "exp", "a", 0.2, 3, 4, 0.0, "", at=0.0)
        >>> db.add_event("r2", "exp", "a", 0.2, 3, 4, 0.0, "")
        >>> db.prune(before=1.0), db.summary("exp")[0]["requests"]
        (1, 1)
    """

    def __init__(self, path: Path | str):
        self.conn = connect(path)
        self.conn.executescript(_SCHEMA)
        self._lock = threading.RLock()
        """One connection, used by the experiments' writer thread and by request threads: a prune's
        transaction must not take in (or fail on) another thread's statement."""

    def add_event(
        self,
        request_id: str,
        experiment: str,
        arm: str,
        latency: float,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        error: str,
        at: float | None = None,
    ) -> None:
        """One routed request's outcome (``at``: epoch seconds, default now)."""
        with self._lock:
            when = time.time() if at is None else at
            self.conn.execute(
                "INSERT OR REPLACE INTO ab_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (request_id, experiment, arm, when, latency, input_tokens, output_tokens, cost, error or None),
            )

    def prune(self, before: float) -> int:
        """Delete routed requests older than ``before`` (epoch seconds) with their feedback; how many went."""
        with self._lock:
            with write_transaction(self.conn) as conn:
                conn.execute(
                    "DELETE FROM ab_feedback WHERE request_id IN (SELECT request_id FROM ab_events WHERE at < ?)",
                    (before,),
                )
                return conn.execute("DELETE FROM ab_events WHERE at < ?", (before,)).rowcount or 0

    def add_feedback(self, request_id: str, score: int) -> bool:
        """``False`` when the request is not part of any experiment."""
        with self._lock:
            if not self.conn.execute("SELECT 1 FROM ab_events WHERE request_id = ?", (request_id,)).fetchone():
                return False
            self.conn.execute("INSERT OR REPLACE INTO ab_feedback VALUES (?, ?, ?)", (request_id, score, time.time()))
            return True

    def summary(self, experiment: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self.conn.execute(
                """SELECT e.arm AS arm, COUNT(*) AS requests, SUM(e.error IS NOT NULL) AS errors,
                          AVG(e.latency) AS mean_latency, SUM(e.input_tokens) AS input_tokens,
                          SUM(e.output_tokens) AS output_tokens, SUM(e.cost) AS cost,
                          SUM(f.score > 0) AS thumbs_up, SUM(f.score < 0) AS thumbs_down
                   FROM ab_events e LEFT JOIN ab_feedback f USING (request_id)
                   WHERE e.experiment = ? GROUP BY e.arm ORDER BY e.arm""",
                (experiment,),
            ).fetchall()
            return [{k: (row[k] or 0) for k in row.keys()} | {"arm": row["arm"]} for row in rows]

    def latencies(self, experiment: str) -> dict[str, list[float]]:
        """Each arm's per-request latencies (seconds) of successful requests, for significance tests."""
        with self._lock:
            rows = self.conn.execute(
                "SELECT arm, latency FROM ab_events WHERE experiment = ? AND error IS NULL "
                "AND latency IS NOT NULL ORDER BY at",
                (experiment,),
            ).fetchall()
            out: dict[str, list[float]] = {}
            for row in rows:
                out.setdefault(row["arm"], []).append(float(row["latency"]))
            return out

    def status(self, experiment: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT status FROM ab_status WHERE experiment = ?", (experiment,)).fetchone()
            return row["status"] if row else None

    def set_status(self, experiment: str, status: str) -> None:
        with self._lock:
            self.conn.execute("INSERT OR REPLACE INTO ab_status VALUES (?, ?, ?)", (experiment, status, time.time()))
