"""The request log's SQL: old files gain new columns, retention prunes, a URL works like a path."""

from __future__ import annotations

import sqlite3
import time

from store.request_log import CallRecord, RequestLog
from store.request_log_db import COLUMNS, RequestLogDB


def _row(row_id: str, ts: float, key_id: str = "", model: str = "m", status: int = 200) -> tuple:
    values = dict.fromkeys(COLUMNS, None)
    values.update(
        id=row_id,
        ts=ts,
        endpoint="chat",
        model=model,
        status=status,
        key_id=key_id,
        cost_usd=0.25,
        input_tokens=3,
        output_tokens=4,
        latency_ms=10.0,
    )
    return tuple(values[c] for c in COLUMNS)


def test_a_log_from_the_first_release_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    path = tmp_path / "requests.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        """CREATE TABLE requests (id TEXT PRIMARY KEY, ts REAL NOT NULL, endpoint TEXT NOT NULL, model TEXT,
        deployment TEXT, route_reason TEXT, latency_ms REAL, ttft_ms REAL, input_tokens INTEGER,
        output_tokens INTEGER, cost_usd REAL, status INTEGER, error_class TEXT);
        INSERT INTO requests VALUES ('old', 1.0, 'chat', 'm', 'd0', '', 5, NULL, 1, 2, 0.5, 200, '');"""
    )
    old.commit()
    old.close()
    db = RequestLogDB(path)
    db.insert([_row("new", 2.0, key_id="key_a")])
    rows = db.rows(0, 10)
    assert [(r["id"], r["key_id"]) for r in rows] == [("old", None), ("new", "key_a")]


def test_usage_groups_by_key_and_model_and_one_key_sees_only_its_rows(store_target):
    db = RequestLogDB(store_target)
    db.insert([_row("1", 1, "key_a"), _row("2", 2, "key_a", status=502), _row("3", 3, "key_b", model="n")])
    everyone = {(u["key_id"], u["model"]): u for u in db.usage(0, 10)}
    assert set(everyone) == {("key_a", "m"), ("key_b", "n")}
    assert everyone["key_a", "m"]["requests"] == 2 and everyone["key_a", "m"]["errors"] == 1
    assert everyone["key_a", "m"]["cost_usd"] == 0.5
    only_a = db.usage(0, 10, key_id="key_a")
    assert [u["key_id"] for u in only_a] == ["key_a"]


def test_prune_deletes_only_rows_older_than_the_cutoff(store_target):
    db = RequestLogDB(store_target)
    db.insert([_row("old", 100.0), _row("edge", 200.0), _row("new", 300.0)])
    assert db.prune(before=200.0) == 1
    assert [r["id"] for r in db.rows(0, 1000)] == ["edge", "new"]


def test_the_writer_thread_applies_the_retention(tmp_path):
    path = tmp_path / "requests.sqlite"
    RequestLogDB(path).insert([_row("ancient", time.time() - 40 * 86_400)])
    request_log = RequestLog(path, flush_seconds=0.01, retention_days=30)
    request_log.write(CallRecord(endpoint="chat", model="m"))
    assert request_log.flush()
    assert [r["endpoint"] for r in request_log.rows(0, time.time() + 1)] == ["chat"]
    assert request_log.pruned == 1
    request_log.close()


def test_a_database_url_is_used_as_given(tmp_path):
    url = f"sqlite:///{tmp_path / 'via-url.sqlite'}"
    request_log = RequestLog(url, flush_seconds=0.01)
    request_log.write(CallRecord(endpoint="chat", model="m", key_id="key_a"))
    assert request_log.flush()
    assert (tmp_path / "via-url.sqlite").exists()
    assert request_log.usage(0, time.time() + 1, key_id="key_a")[0]["requests"] == 1
    request_log.close()
