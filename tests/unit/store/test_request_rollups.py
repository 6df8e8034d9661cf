"""Usage from hourly rollups gives the answers of the raw rows (issue 16): on random logs and random
ranges, hour boundaries and mid-hour ends alike, on SQLite and PostgreSQL; batches that share hours,
two writers at once, the migration's backfill of an older log, and the two retentions."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import defaultdict
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select

from store.database import open_engine, write_transaction
from store.migrations import SCHEMAS, alembic_config
from store.request_log import CallRecord, RequestLog
from store.request_log_db import COLUMNS, RequestLogDB, request_rollups, requests

HOUR = 3600.0
DAY = 86_400.0
START = 1_700_002_800.0  # 2023-11-14 23:00 UTC: a whole hour
KEYS = ("key_a", "key_b", "", None)
MODELS = ("m", "n", "", None)


def _random_rows(rng: random.Random, count: int, hours: int) -> list[tuple[Any, ...]]:
    """Rows over ``hours`` hours from START, some exactly on an hour or a hair before one, some NULLs."""
    rows = []
    for i in range(count):
        hour = START + rng.randrange(hours) * HOUR
        ts = rng.choice([hour, math.nextafter(hour, 0.0), hour + rng.random() * HOUR])
        latency = None if rng.random() < 0.1 else rng.uniform(1, 900)
        values = {
            "id": f"r{i}",
            "ts": ts,
            "endpoint": "chat",
            "model": rng.choice(MODELS),
            "latency_ms": latency,
            "ttft_ms": rng.uniform(1, 100) if rng.random() < 0.4 else None,
            "input_tokens": None if rng.random() < 0.05 else rng.randrange(2000),
            "output_tokens": rng.randrange(500),
            "cost_usd": None if rng.random() < 0.05 else rng.random() / 100,
            "status": rng.choice([200, 200, 200, 429, 502, None]),
            "key_id": rng.choice(KEYS),
        }
        rows.append(tuple(values.get(column) for column in COLUMNS))
    return rows


def _expected(rows: list[tuple[Any, ...]], since: float, until: float, key_id: str | None) -> dict[tuple, dict]:
    """The usage totals computed in Python from the raw rows: the oracle."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        values = dict(zip(COLUMNS, row, strict=True))
        key = (values["key_id"] or "", "-" if values["model"] is None else values["model"])
        if since <= values["ts"] <= until and (key_id is None or key[0] == key_id):
            groups[key].append(values)

    def mean(values: list[float | None]) -> object:
        present = [v for v in values if v is not None]
        return pytest.approx(sum(present) / len(present), rel=1e-9) if present else None

    return {
        key: {
            "key_id": key[0],
            "model": key[1],
            "requests": len(group),
            "errors": sum(1 for r in group if r["status"] is not None and r["status"] >= 400),
            "input_tokens": sum(r["input_tokens"] or 0 for r in group),
            "output_tokens": sum(r["output_tokens"] or 0 for r in group),
            "cost_usd": pytest.approx(sum(r["cost_usd"] or 0.0 for r in group), rel=1e-9, abs=1e-12),
            "avg_latency_ms": mean([r["latency_ms"] for r in group]),
            "avg_ttft_ms": mean([r["ttft_ms"] for r in group]),
        }
        for key, group in groups.items()
    }


def _by_group(usage: list[dict[str, Any]]) -> dict[tuple, dict]:
    assert [u["requests"] for u in usage] == sorted((u["requests"] for u in usage), reverse=True)  # busiest first
    for total in usage:
        assert all(type(total[name]) is int for name in ("requests", "errors", "input_tokens", "output_tokens"))
    return {(u["key_id"], u["model"]): u for u in usage}


def _ranges(rng: random.Random, hours: int) -> list[tuple[float, float]]:
    """Ranges on hour boundaries, a hair off them, mid-hour, empty, within one hour, and the whole log."""
    end = START + hours * HOUR
    edges = [START + h * HOUR for h in range(hours + 1)]
    picks = [(START, end), (START - DAY, end + DAY), (START + 10.5, START + 20.5), (end + 1, end + 2)]
    picks += [
        (edges[3], edges[3]),
        (edges[2], edges[5]),
        (math.nextafter(edges[2], 0.0), math.nextafter(edges[5], 0.0)),
    ]
    for _ in range(30):
        a, b = sorted([rng.uniform(START - HOUR, end + HOUR), rng.choice(edges) + rng.choice([0.0, 1e-3, -1e-3])])
        picks.append((a, b))
    return picks


def test_usage_from_rollups_is_the_usage_of_the_raw_rows_on_random_logs_and_ranges(store_target):
    rng = random.Random(16)
    hours = 60
    rows = _random_rows(rng, 1500, hours)
    db = RequestLogDB(store_target)
    start = 0
    while start < len(rows):  # batches of uneven sizes, so hours are added to by several of them
        size = rng.randrange(1, 200)
        db.insert(rows[start : start + size])
        start += size
    far = [(-5.3e291, -1.2e-38), (-1e300, 1e300), (START, 1e300)]  # any float reaches /api/usage
    for since, until in [*_ranges(rng, hours), *far]:
        for key_id in (None, "key_a", "", "nobody"):
            expected = _expected(rows, since, until, key_id)
            assert _by_group(db.usage(since, until, key_id)) == expected, (since, until, key_id)
            assert _by_group(db.usage_from_rows(since, until, key_id)) == expected, (since, until, key_id)
    db.close()


def test_two_writers_adding_to_the_same_hours_at_once_lose_nothing(store_target):
    rng = random.Random(7)
    rows = _random_rows(rng, 2000, 4)  # 4 hours: the writers meet on the same rollup rows all the time
    writers = [RequestLogDB(store_target), RequestLogDB(store_target)]  # two engines, as two replicas

    def write(db: RequestLogDB, mine: list[tuple[Any, ...]]) -> None:
        for start in range(0, len(mine), 50):
            db.insert(mine[start : start + 50])

    threads = [threading.Thread(target=write, args=(db, rows[i::2])) for i, db in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _by_group(writers[0].usage(START, START + 4 * HOUR)) == _expected(rows, START, START + 4 * HOUR, None)
    for db in writers:
        db.close()


def test_the_migration_rolls_up_the_rows_logged_before_it(store_target):
    rng = random.Random(3)
    old, new = _random_rows(rng, 600, 6), _random_rows(rng, 300, 6)
    new = [(f"new{i}", *row[1:]) for i, row in enumerate(new)]
    engine = open_engine(store_target)
    with write_transaction(engine) as conn:  # the request log as requests_0001 left it, with rows
        command.upgrade(alembic_config(conn, SCHEMAS["requests"].version_table), "requests_0001")
        conn.execute(requests.insert(), [dict(zip(COLUMNS, row, strict=True)) for row in old])
    engine.dispose()

    db = RequestLogDB(store_target)  # opening migrates to requests_0002: backfilled from the rows
    with db.engine.connect() as conn:
        assert conn.execute(select(func.sum(request_rollups.c.requests))).scalar_one() == len(old)
    db.insert(new)  # later rows land in the hours the backfill made (same hour, key and model for both)
    for since, until in _ranges(rng, 6):
        assert _by_group(db.usage(since, until)) == _expected(old + new, since, until, None), (since, until)
    db.close()


def test_pruning_rows_keeps_their_rollups_and_rollups_go_by_whole_hours(store_target):
    db = RequestLogDB(store_target)
    at = [START + 10, START + HOUR + 10, START + 2 * HOUR + 10, START + 3 * HOUR + 10]
    db.insert([_call(f"r{i}", ts) for i, ts in enumerate(at)])
    assert db.prune(before=START + 2 * HOUR + 20) == 3  # mid-hour: the rows of hours 0, 1 and part of 2 go
    # whole hours still count from the rollups; the partial hour at the start of a range needs its rows
    assert db.usage(START, START + 4 * HOUR)[0]["requests"] == 4
    assert db.usage(START + 5, START + 4 * HOUR)[0]["requests"] == 3
    assert db.prune_rollups(before=START + 2 * HOUR + 20) == 2  # hours 0 and 1 ended by then; hour 2 did not
    assert db.usage(START, START + 4 * HOUR)[0]["requests"] == 2
    db.close()


def test_the_writer_thread_keeps_rollups_past_the_rows_retention_and_never_below_it(tmp_path):
    now = time.time()
    for name in ("long.sqlite", "short.sqlite"):
        db = RequestLogDB(tmp_path / name)
        db.insert([_call(f"d{age}", now - age * DAY) for age in (10, 40, 500)])
        db.close()
    logs = [
        RequestLog(tmp_path / "long.sqlite", flush_seconds=0.01, retention_days=30, rollup_retention_days=400),
        RequestLog(tmp_path / "short.sqlite", flush_seconds=0.01, retention_days=30, rollup_retention_days=1),
    ]
    for request_log in logs:
        request_log.write(CallRecord(endpoint="chat", model="m", key_id="key_a"))
        assert request_log.flush()  # the writer prunes before its first write
        assert request_log.pruned == 2  # the rows of 40 and 500 days ago were past the 30 days
        assert [r["id"] for r in request_log.rows(0, now - DAY)] == ["d10"]
    # 400 days of rollups: the 40-day-old call still counts, the 500-day-old one is gone
    assert (logs[0].usage(0, now + 1)[0]["requests"], logs[0].pruned_rollups) == (3, 1)
    # a 1-day rollup retention is raised to the rows' 30 days: the 10-day-old call, still a row, counts
    assert (logs[1].usage(0, now + 1)[0]["requests"], logs[1].pruned_rollups) == (2, 2)
    for request_log in logs:
        request_log.close()


def _call(row_id: str, ts: float) -> tuple[Any, ...]:
    return (row_id, ts, "chat", "m", "", "", 5.0, None, 1, 1, 0.5, 200, "", "key_a", "")
