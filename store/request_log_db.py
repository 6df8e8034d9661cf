"""SQL of the request log: one row per gateway call, no prompt bodies.

SQLite (``data/requests.sqlite``) by default; any SQLAlchemy URL (``DATABASE_URL``, e.g.
``postgresql+psycopg://…``) for a server database shared by several gateway processes.
Queries are SQLAlchemy Core, so the same code runs on both; the schema is the ``requests`` branch of
:mod:`store.migrations` (``database_url`` is re-exported here for older callers).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    delete,
    func,
    select,
)
from sqlalchemy.engine import Engine

from store.database import database_url
from store.store_engine import StoreEngine

__all__ = ["COLUMNS", "RequestLogDB", "database_url"]

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

_metadata = MetaData()
requests = Table(
    "requests",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("ts", Float, nullable=False),
    Column("endpoint", String(32), nullable=False),
    Column("model", Text),
    Column("deployment", Text),
    Column("route_reason", Text),
    Column("latency_ms", Float),
    Column("ttft_ms", Float),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cost_usd", Float),
    Column("status", Integer),
    Column("error_class", Text),
    Column("key_id", Text),
    Column("cache", Text),
    Index("requests_ts", "ts"),
)


class RequestLogDB:
    """Writes batches of rows, summarises them per key and model, prunes old ones.

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
        """Insert rows (tuples in :data:`COLUMNS` order) in one transaction."""
        values = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
        if not values:
            return
        with self.engine.begin() as conn:
            conn.execute(requests.insert(), values)

    def rows(self, since: float, until: float) -> list[dict[str, Any]]:
        """Every row logged in ``[since, until]``, oldest first."""
        query = select(requests).where(requests.c.ts.between(since, until)).order_by(requests.c.ts)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def usage(self, since: float, until: float, key_id: str | None = None) -> list[dict[str, Any]]:
        """Totals per (key, model) over ``[since, until]`` (epoch seconds).

        ``key_id`` limits the rows to one consumer key (what that key may see of the log).
        """
        key = func.coalesce(requests.c.key_id, "")
        model = func.coalesce(requests.c.model, "-")
        count = func.count()
        query = (
            select(
                key.label("key_id"),
                model.label("model"),
                count.label("requests"),
                func.coalesce(func.sum(case((requests.c.status >= 400, 1), else_=0)), 0).label("errors"),
                func.coalesce(func.sum(requests.c.input_tokens), 0).label("input_tokens"),
                func.coalesce(func.sum(requests.c.output_tokens), 0).label("output_tokens"),
                func.coalesce(func.sum(requests.c.cost_usd), 0.0).label("cost_usd"),
                func.avg(requests.c.latency_ms).label("avg_latency_ms"),
                func.avg(requests.c.ttft_ms).label("avg_ttft_ms"),
            )
            .where(requests.c.ts.between(since, until))
            .group_by(key, model)
            .order_by(count.desc())
        )
        if key_id is not None:
            query = query.where(key == key_id)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def prune(self, before: float) -> int:
        """Delete rows older than ``before`` (epoch seconds); returns how many went."""
        with self.engine.begin() as conn:
            return conn.execute(delete(requests).where(requests.c.ts < before)).rowcount or 0

    def close(self) -> None:
        self.engine.dispose()
