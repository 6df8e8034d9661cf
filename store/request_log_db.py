"""SQL of the request log: one row per gateway call (no prompt bodies) and hourly rollups of them.

SQLite (``data/requests.sqlite``) by default; any SQLAlchemy URL (``DATABASE_URL``, e.g.
``postgresql+psycopg://…``) for a server database shared by several gateway processes.
Queries are SQLAlchemy Core, so the same code runs on both; the schema is the ``requests`` branch of
:mod:`store.migrations` (tables in :mod:`store.request_log_tables`; ``database_url`` is re-exported
here for older callers).

A million rows stay cheap to summarise: every batch of rows adds itself to ``request_rollups``
in its own transaction (:mod:`store.request_rollups`), and :meth:`RequestLogDB.usage` reads whole hours
from there and only the partial hours at the ends of its range from the raw rows
(:mod:`store.request_usage`). Raw rows and rollups are pruned separately: the rollups are kept longer.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.engine import Engine

from store.database import database_url
from store.request_log_tables import COLUMNS, request_rollups, requests
from store.request_rollups import add_rollups, hour_of
from store.request_usage import finished, raw_usage_query, usage_query
from store.store_engine import StoreEngine

__all__ = ["COLUMNS", "RequestLogDB", "database_url", "request_rollups", "requests"]


class RequestLogDB:
    """Writes batches of rows with their rollups, summarises them per key and model, prunes old ones.

    Args:
        target: a SQLite file path or a SQLAlchemy database URL (created and migrated if needed).

    Example:
        >>> db = RequestLogDB(tmp_path / "requests.sqlite")
        >>> db.insert([("id1", 0.0, "chat", "m", "d0", "", 5.0, None, 3, 4, 0.0, 200, "", "", "")])
        >>> db.usage(0, 1)[0]["requests"]
        1
        >>> db.close()
    """

    def __init__(self, target: Path | str):
        self.url = database_url(target)
        self.tables = StoreEngine(target, "requests")  # a log from before migrations is adopted
        self.engine: Engine = self.tables.engine

    def insert(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert rows (tuples in :data:`COLUMNS` order) and add them to their rollups, in one transaction."""
        values = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        if not values:
            return
        with self.tables.write() as conn:
            conn.execute(requests.insert(), values)
            add_rollups(conn, values)

    def rows(self, since: float, until: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Every row logged in ``[since, until]`` — the latest ``limit`` of them when given — oldest first."""
        query = select(requests).where(requests.c.ts.between(since, until))
        if limit is None:
            query = query.order_by(requests.c.ts)
        else:  # newest first through the ts index, then turned around
            query = query.order_by(requests.c.ts.desc()).limit(limit)
        with self.engine.connect() as conn:
            found = [dict(row._mapping) for row in conn.execute(query)]
        return found if limit is None else found[::-1]

    def usage(self, since: float, until: float, key_id: str | None = None) -> list[dict[str, Any]]:
        """Totals per (key, model) over ``[since, until]`` (epoch seconds), busiest first: requests,
        errors, tokens, cost, mean latency and TTFT.

        ``key_id`` limits the rows to one consumer key (what that key may see of the log). Whole hours
        come from the rollups, so a range reaching back past the raw rows' retention still counts the
        whole hours there (the rollups are kept longer) but not the pruned partial hour at its start.
        """
        return self._totals(usage_query(since, until, key_id))

    def usage_from_rows(self, since: float, until: float, key_id: str | None = None) -> list[dict[str, Any]]:
        """:meth:`usage` from every raw row in the range, as it was computed before rollups (for checks
        and ``bench/usage_query.py``)."""
        return self._totals(raw_usage_query(since, until, key_id))

    def prune(self, before: float) -> int:
        """Delete rows older than ``before`` (epoch seconds); returns how many went. Rollups stay."""
        with self.tables.write() as conn:
            return conn.execute(delete(requests).where(requests.c.ts < before)).rowcount or 0

    def prune_rollups(self, before: float) -> int:
        """Delete the rollups of hours that ended by ``before`` (epoch seconds); returns how many went."""
        with self.tables.write() as conn:
            return conn.execute(delete(request_rollups).where(request_rollups.c.hour < hour_of(before))).rowcount or 0

    def close(self) -> None:
        self.engine.dispose()

    def _totals(self, query: Select[Any]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [finished(row) for row in conn.execute(query)]
