"""Hourly rollups of the request log, added to as each batch of raw rows is written.

:func:`add_rollups` runs inside the transaction that inserts a batch (:meth:`RequestLogDB.insert`):
the batch is summed per (hour, key, model) here, in Python, and each sum is *added* to its rollup row
with one ``INSERT … ON CONFLICT DO UPDATE SET c = c + excluded.c`` (:func:`store.database.accumulate`).
So a rollup is never behind its raw rows — they commit together — and several gateway replicas
writing the same hour on one PostgreSQL add up instead of overwriting each other. The rows are sent
sorted by key, so two replicas' transactions take the rollups' row locks in one order and never
deadlock.

**Why hours.** ``/api/usage`` answers whole buckets from the rollups and the partial buckets at both
ends from the raw rows. Its default window is the last 24 hours, which never holds a whole UTC day:
with daily buckets that call — the most common one — would still read a day of raw rows. With hours it
reads 23 or 24 hours of rollups and at most two partial hours of raw rows, and any time zone with
whole-hour offsets can total its own days from the same table. The price is 24 rows per active
(key, model) pair and day instead of one, which the rollup retention bounds (:mod:`store.request_log`).

Example:
    >>> hour_of(7199.999), hour_of(7200.0)
    (1, 2)
    >>> [r["requests"] for r in rollups_of([{"ts": 1.0, "key_id": None, "model": "m", "status": 500}] * 2)]
    [2]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy.engine import Connection

from store.database import accumulate
from store.request_log_tables import ROLLUP_KEY, ROLLUP_TOTALS, request_rollups

__all__ = ["HOUR_SECONDS", "add_rollups", "hour_of", "rollups_of"]

HOUR_SECONDS = 3600
"""A rollup bucket's width."""


def hour_of(ts: float) -> int:
    """The rollup hour of a call at ``ts`` (epoch seconds): exactly ``hour * 3600 <= ts < (hour + 1) * 3600``.

    That is ``floor(ts / 3600)`` in IEEE doubles, which is also what SQL computes in the backfill of
    ``requests_0002``: a double just below ``k * 3600`` divided by 3600 stays below ``k`` (its distance
    to ``k`` is over half a unit in the last place of ``k``, so it cannot round up to it), and one just
    above stays above. The check against ``hour * 3600`` here only makes that visible; it never moves
    a timestamp of the log, and it keeps the bounds of :mod:`store.request_usage` exact for any input.
    """
    hour = math.floor(ts / HOUR_SECONDS)
    if hour * HOUR_SECONDS > ts:
        return hour - 1
    return hour + 1 if (hour + 1) * HOUR_SECONDS <= ts else hour


def rollups_of(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The totals of ``rows`` (raw rows as dicts) per (hour, key, model), sorted by that key.

    Keys and models are stored as usage reports them (no key: ``''``, no model: ``'-'``); NULL tokens,
    costs and latencies are skipped as SQL's ``SUM`` and ``AVG`` skip them.
    """
    totals: dict[tuple[int, str, str], dict[str, Any]] = {}
    for row in rows:
        key = (hour_of(row["ts"]), row.get("key_id") or "", "-" if row.get("model") is None else row["model"])
        total = totals.get(key)
        if total is None:
            total = totals[key] = {**dict(zip(ROLLUP_KEY, key, strict=True)), **_empty()}
        status = row.get("status")
        total["requests"] += 1
        total["errors"] += 1 if status is not None and status >= 400 else 0
        total["input_tokens"] += row.get("input_tokens") or 0
        total["output_tokens"] += row.get("output_tokens") or 0
        total["cost_usd"] += row.get("cost_usd") or 0.0
        for measure in ("latency", "ttft"):
            value = row.get(f"{measure}_ms")
            if value is not None:
                total[f"{measure}_ms_sum"] += value
                total[f"{measure}_count"] += 1
    return [totals[key] for key in sorted(totals)]


def add_rollups(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Add ``rows``' totals to their rollup rows, in ``conn``'s transaction (the one inserting them)."""
    rollups = rollups_of(rows)
    if rollups:
        conn.execute(accumulate(request_rollups, list(ROLLUP_KEY), conn.dialect.name), rollups)


def _empty() -> dict[str, Any]:
    return {name: 0.0 if name.endswith(("_usd", "_sum")) else 0 for name in ROLLUP_TOTALS}
