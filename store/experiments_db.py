"""Tables for A/B experiments (``data/experiments.sqlite``, or ``DATABASE_URL``): one row per routed
request, user feedback, status.

Rows of routed requests (and their feedback) are deleted by age with :meth:`ExperimentsDB.prune`,
which :class:`routers.experiments.Experiments` calls from its writer thread. Status and feedback
are upserts (``INSERT … ON CONFLICT DO UPDATE``), so concurrent writers need no lock.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, case, delete, func, select

from store.database import REAL_NUMBER
from store.store_engine import StoreEngine

__all__ = ["ExperimentsDB", "ab_events", "ab_feedback", "ab_status"]

_metadata = MetaData()
ab_events = Table(
    "ab_events",
    _metadata,
    Column("request_id", Text, primary_key=True),
    Column("experiment", Text, nullable=False),
    Column("arm", Text, nullable=False),
    Column("at", REAL_NUMBER, nullable=False),
    Column("latency", REAL_NUMBER),
    Column("input_tokens", Integer),
    Column("output_tokens", Integer),
    Column("cost", REAL_NUMBER),
    Column("error", Text),
)
ab_feedback = Table(
    "ab_feedback",
    _metadata,
    Column("request_id", Text, primary_key=True),
    Column("score", Integer, nullable=False),
    Column("at", REAL_NUMBER, nullable=False),
)
ab_status = Table(
    "ab_status",
    _metadata,
    Column("experiment", Text, primary_key=True),
    Column("status", Text, nullable=False),
    Column("at", REAL_NUMBER, nullable=False),
)


class ExperimentsDB:
    """Reads and writes the ``ab_*`` tables.

    Args:
        target: a SQLite file path or a SQLAlchemy URL (created and migrated if needed).

    Example:
        >>> db = ExperimentsDB(tmp_path / "ab.sqlite")
        >>> db.add_event("r1", "exp", "a", 0.2, 3, 4, 0.0, "", at=0.0)
        >>> db.add_event("r2", "exp", "a", 0.2, 3, 4, 0.0, "")
        >>> db.prune(before=1.0), db.summary("exp")[0]["requests"]
        (1, 1)
    """

    def __init__(self, target: Path | str):
        self.tables = StoreEngine(target, "experiments")

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
        """One routed request's outcome (``at``: epoch seconds, default now); a request id seen before
        is replaced."""
        row = {
            "request_id": request_id,
            "experiment": experiment,
            "arm": arm,
            "at": time.time() if at is None else at,
            "latency": latency,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cost": cost,
            "error": error or None,
        }
        with self.tables.write() as conn:
            conn.execute(self.tables.upsert(ab_events, ["request_id"]).values(row))

    def prune(self, before: float) -> int:
        """Delete routed requests older than ``before`` (epoch seconds) with their feedback; how many went."""
        old = select(ab_events.c.request_id).where(ab_events.c.at < before)
        with self.tables.write() as conn:
            conn.execute(delete(ab_feedback).where(ab_feedback.c.request_id.in_(old)))
            return conn.execute(delete(ab_events).where(ab_events.c.at < before)).rowcount or 0

    def add_feedback(self, request_id: str, score: int) -> bool:
        """``False`` when the request is not part of any experiment."""
        row = {"request_id": request_id, "score": score, "at": time.time()}
        with self.tables.write() as conn:
            event = select(ab_events.c.request_id).where(ab_events.c.request_id == request_id)
            known = conn.execute(event.with_for_update()).first()  # a prune waits until the feedback is in
            if known is None:
                return False
            conn.execute(self.tables.upsert(ab_feedback, ["request_id"]).values(row))
            return True

    def summary(self, experiment: str) -> list[dict[str, Any]]:
        """Per arm: requests, errors, mean latency, tokens, cost, thumbs up and down (0 when none)."""
        e, f = ab_events.c, ab_feedback.c
        query = (
            select(
                e.arm.label("arm"),
                func.count().label("requests"),
                func.sum(case((e.error.is_not(None), 1), else_=0)).label("errors"),
                func.avg(e.latency).label("mean_latency"),
                func.sum(e.input_tokens).label("input_tokens"),
                func.sum(e.output_tokens).label("output_tokens"),
                func.sum(e.cost).label("cost"),
                func.sum(case((f.score > 0, 1), else_=0)).label("thumbs_up"),
                func.sum(case((f.score < 0, 1), else_=0)).label("thumbs_down"),
            )
            .select_from(ab_events.outerjoin(ab_feedback, e.request_id == f.request_id))
            .where(e.experiment == experiment)
            .group_by(e.arm)
            .order_by(e.arm)
        )
        with self.tables.read() as conn:
            rows = [row._mapping for row in conn.execute(query)]
        return [{key: (value or 0) for key, value in row.items()} | {"arm": row["arm"]} for row in rows]

    def latencies(self, experiment: str) -> dict[str, list[float]]:
        """Each arm's per-request latencies (seconds) of successful requests, for significance tests."""
        e = ab_events.c
        query = (
            select(e.arm, e.latency)
            .where((e.experiment == experiment) & e.error.is_(None) & e.latency.is_not(None))
            .order_by(e.at)
        )
        out: dict[str, list[float]] = {}
        with self.tables.read() as conn:
            for arm, latency in conn.execute(query):
                out.setdefault(arm, []).append(float(latency))
        return out

    def status(self, experiment: str) -> str | None:
        with self.tables.read() as conn:
            status: str | None = conn.execute(
                select(ab_status.c.status).where(ab_status.c.experiment == experiment)
            ).scalar()
        return status

    def set_status(self, experiment: str, status: str) -> None:
        row = {"experiment": experiment, "status": status, "at": time.time()}
        with self.tables.write() as conn:
            conn.execute(self.tables.upsert(ab_status, ["experiment"]).values(row))

    def close(self) -> None:
        self.tables.close()
