"""The request log's tables: one raw row per gateway call, and hourly totals per key and model.

The schema is built by the ``requests`` branch of :mod:`store.migrations`; these definitions are what the
queries use (``tests/unit/store/test_migrations.py`` checks the two agree, indexes included).

- ``requests``: every call (no prompt or answer text), kept for the log's retention. Indexed by ``ts``
  (time ranges: the dashboard's rows, the partial hours of a usage query, pruning) and by
  ``(key_id, ts)`` (one consumer key's usage).
- ``request_rollups``: per UTC hour, key and model, the totals ``/api/usage`` reports — counts and sums
  only, so any set of hours adds up exactly, averages included (sum / count). Written in the same
  transaction as the raw rows (:mod:`store.request_rollups`); kept longer than the raw rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text

__all__ = ["COLUMNS", "ROLLUP_KEY", "ROLLUP_TOTALS", "request_rollups", "requests"]

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
"""The raw row's columns, in the order :meth:`store.request_log.CallRecord.row` gives them."""

metadata = MetaData()

requests = Table(
    "requests",
    metadata,
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
    Index("requests_key_ts", "key_id", "ts"),
)

request_rollups = Table(
    "request_rollups",
    metadata,
    # hours since the epoch (UTC): the row sums the calls with hour * 3600 <= ts < (hour + 1) * 3600
    Column("hour", BigInteger, primary_key=True, autoincrement=False),
    Column("key_id", Text, primary_key=True),  # the raw rows' key_id, '' for none (as usage reports it)
    Column("model", Text, primary_key=True),  # the raw rows' model, '-' for none (as usage reports it)
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),  # calls answered with a status of 400 or more
    Column("input_tokens", BigInteger, nullable=False),
    Column("output_tokens", BigInteger, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("latency_ms_sum", Float, nullable=False),
    Column("latency_count", BigInteger, nullable=False),  # calls with a latency: the mean is sum / count
    Column("ttft_ms_sum", Float, nullable=False),
    Column("ttft_count", BigInteger, nullable=False),  # calls with a time to first token (streams)
    Index("request_rollups_key", "key_id", "hour"),
)

ROLLUP_KEY = ("hour", "key_id", "model")
"""A rollup row's identity."""

ROLLUP_TOTALS = tuple(c.name for c in request_rollups.columns if c.name not in ROLLUP_KEY)
"""The counts and sums a rollup row holds: every one adds up over rows and hours."""
