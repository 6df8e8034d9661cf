"""Usage totals per (key, model) over a time range: whole hours from the rollups, the rest from raw rows.

``[since, until]`` (both ends included, as the raw query always had it) splits into

- the whole hours inside it, ``first_hour … last_hour``: read from ``request_rollups``;
- the head ``since <= ts < first_hour * 3600`` and the tail ``(last_hour + 1) * 3600 <= ts <= until``:
  read from ``requests`` (at most an hour each, through the ``ts`` index).

The three parts are one ``UNION ALL`` summed per (key, model) in one statement, so they come from one
snapshot: a batch committed meanwhile is in all of them or in none. Counts and sums add up exactly
across parts, and the means are ``sum / count`` over everything — never a mean of means.
:func:`raw_usage_query` is the query before rollups (every raw row in the range), kept for
comparisons and the benchmark (``bench/usage_query.py``).

Example:
    >>> whole_hours(3599.0, 10_800.0)  # 01:00–02:00 and 02:00–03:00 are inside, 00:59:59 and 03:00:00 are not
    (1, 2)
    >>> whole_hours(10.0, 3000.0)  # no whole hour: first > last
    (1, -1)
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union_all
from sqlalchemy.engine import Row

from store.request_log_tables import ROLLUP_TOTALS, request_rollups, requests
from store.request_rollups import HOUR_SECONDS, hour_of

__all__ = ["finished", "raw_usage_query", "usage_query", "whole_hours"]


def whole_hours(since: float, until: float) -> tuple[int, int]:
    """The first and last rollup hour lying wholly inside ``[since, until]`` (``first > last``: none):
    hour ``h`` covers ``[h * 3600, (h + 1) * 3600)``, so it is inside when ``since <= h * 3600`` and
    ``(h + 1) * 3600 <= until``."""
    starts_at_since = hour_of(since) * HOUR_SECONDS == since
    return hour_of(since) + (0 if starts_at_since else 1), hour_of(until) - 1


_FAR_SECONDS = 1e15
"""Bounds ``since``/``until`` are clamped to (some 31 million years from 1970 either way): no call is
logged outside them, and beyond them an hour number no longer fits a SQL integer (``/api/usage``
takes any float; schemathesis sent ``since=-5.3e291``)."""


def usage_query(since: float, until: float, key_id: str | None) -> Select[Any]:
    """Totals per (key, model) over ``[since, until]``, from rollups where whole hours allow (an
    unbounded range, ``inf``, is read from the raw rows as before)."""
    if not (math.isfinite(since) and math.isfinite(until)):
        return raw_usage_query(since, until, key_id)
    since, until = max(since, -_FAR_SECONDS), min(until, _FAR_SECONDS)  # whole hours stay 64-bit integers
    first, last = whole_hours(since, until)
    if first > last:
        return _summed([_raw_totals(requests.c.ts.between(since, until), key_id)])
    head = and_(requests.c.ts >= since, requests.c.ts < first * HOUR_SECONDS)
    tail = and_(requests.c.ts >= (last + 1) * HOUR_SECONDS, requests.c.ts <= until)
    return _summed([_rollup_totals(first, last, key_id), _raw_totals(head, key_id), _raw_totals(tail, key_id)])


def raw_usage_query(since: float, until: float, key_id: str | None) -> Select[Any]:
    """The same totals from every raw row in ``[since, until]``: what usage cost before rollups."""
    return _summed([_raw_totals(requests.c.ts.between(since, until), key_id)])


def finished(row: Row[Any]) -> dict[str, Any]:
    """One result row as ``/api/usage`` reports it: plain ints and floats, means as sum / count."""
    values = row._mapping
    return {
        "key_id": values["key_id"],
        "model": values["model"],
        "requests": int(values["requests"]),
        "errors": int(values["errors"]),
        "input_tokens": int(values["input_tokens"]),
        "output_tokens": int(values["output_tokens"]),
        "cost_usd": float(values["cost_usd"]),
        "avg_latency_ms": _mean(values["latency_ms_sum"], values["latency_count"]),
        "avg_ttft_ms": _mean(values["ttft_ms_sum"], values["ttft_count"]),
    }


def _mean(total: Any, count: Any) -> float | None:
    return float(total) / int(count) if count else None


def _summed(parts: list[Select[Any]]) -> Select[Any]:
    """``parts`` (rows of key, model and every total) summed per (key, model), busiest first."""
    union = (parts[0] if len(parts) == 1 else union_all(*parts)).subquery("parts")
    requests_total = func.sum(union.c.requests)
    return (
        select(union.c.key_id, union.c.model, *(func.sum(union.c[name]).label(name) for name in ROLLUP_TOTALS))
        .group_by(union.c.key_id, union.c.model)
        .order_by(requests_total.desc(), union.c.key_id, union.c.model)
    )


def _rollup_totals(first: int, last: int, key_id: str | None) -> Select[Any]:
    columns = [request_rollups.c[name] for name in ("key_id", "model", *ROLLUP_TOTALS)]
    query = select(*columns).where(request_rollups.c.hour.between(first, last))
    return query if key_id is None else query.where(request_rollups.c.key_id == key_id)


def _raw_totals(in_range: ColumnElement[bool], key_id: str | None) -> Select[Any]:
    """Raw rows matching ``in_range`` (and ``key_id``) totalled per (key, model), in the rollups' columns."""
    key = func.coalesce(requests.c.key_id, "")
    model = func.coalesce(requests.c.model, "-")
    query = (
        select(
            key.label("key_id"),
            model.label("model"),
            func.count().label("requests"),
            func.coalesce(func.sum(case((requests.c.status >= 400, 1), else_=0)), 0).label("errors"),
            func.coalesce(func.sum(requests.c.input_tokens), 0).label("input_tokens"),
            func.coalesce(func.sum(requests.c.output_tokens), 0).label("output_tokens"),
            func.coalesce(func.sum(requests.c.cost_usd), literal(0.0)).label("cost_usd"),
            func.coalesce(func.sum(requests.c.latency_ms), literal(0.0)).label("latency_ms_sum"),
            func.count(requests.c.latency_ms).label("latency_count"),
            func.coalesce(func.sum(requests.c.ttft_ms), literal(0.0)).label("ttft_ms_sum"),
            func.count(requests.c.ttft_ms).label("ttft_count"),
        )
        .where(in_range)
        .group_by(key, model)
    )
    return query if key_id is None else query.where(_key_is(key_id))


def _key_is(key_id: str) -> ColumnElement[bool]:
    """Rows of one key, written so the ``(key_id, ts)`` index serves it (no ``coalesce`` on the column)."""
    if key_id:
        return requests.c.key_id == key_id
    return or_(requests.c.key_id.is_(None), requests.c.key_id == "")
