"""Opening a store's engine: SQLite pragmas and BEGIN IMMEDIATE, URLs kept as given, upserts, redaction."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, Text, select, text

from core.redaction import redacted
from store.database import POSTGRES_POOL, accumulate, open_engine, upsert, write_transaction
from tests.support.postgres import scratch_database

_metadata = MetaData()
_pairs = Table("pairs", _metadata, Column("k", Text, primary_key=True), Column("v", Integer, nullable=False))


def test_sqlite_files_use_wal_and_a_busy_timeout(tmp_path):
    engine = open_engine(tmp_path / "sub" / "store.sqlite")  # the folder is created
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000
    engine.dispose()


def test_a_write_transaction_holds_the_write_lock_before_it_writes(tmp_path):
    path = tmp_path / "store.sqlite"
    engine = open_engine(path)
    _metadata.create_all(engine)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with write_transaction(engine) as conn:
        conn.execute(select(_pairs)).all()  # only a read so far: BEGIN IMMEDIATE already took the lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")  # released at commit
    other.execute("ROLLBACK")
    with engine.connect() as conn:  # a plain read does not take it
        conn.execute(select(_pairs)).all()
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    other.close()
    engine.dispose()


def test_a_failed_write_transaction_rolls_back(store_target):
    engine = open_engine(store_target)
    _metadata.create_all(engine)
    with pytest.raises(RuntimeError), write_transaction(engine) as conn:
        conn.execute(_pairs.insert().values(k="a", v=1))
        raise RuntimeError("stop")
    with engine.connect() as conn:
        assert conn.execute(select(_pairs)).all() == []
    engine.dispose()


def test_upsert_inserts_then_replaces_on_both_backends(store_target):
    engine = open_engine(store_target)
    _metadata.create_all(engine)
    statement = upsert(_pairs, ["k"], engine.dialect.name)
    with write_transaction(engine) as conn:
        conn.execute(statement, [{"k": "a", "v": 1}, {"k": "b", "v": 2}])
        conn.execute(statement, [{"k": "a", "v": 3}])
    with engine.connect() as conn:
        assert conn.execute(select(_pairs).order_by(_pairs.c.k)).all() == [("a", 3), ("b", 2)]
    engine.dispose()


def test_accumulate_adds_to_the_totals_a_row_already_has(store_target):
    engine = open_engine(store_target)
    _metadata.create_all(engine)
    statement = accumulate(_pairs, ["k"], engine.dialect.name)
    with write_transaction(engine) as conn:
        conn.execute(statement, [{"k": "a", "v": 1}, {"k": "b", "v": 2}])
    with write_transaction(engine) as conn:
        conn.execute(statement, [{"k": "a", "v": 3}, {"k": "c", "v": 5}])
    with engine.connect() as conn:
        assert conn.execute(select(_pairs).order_by(_pairs.c.k)).all() == [("a", 4), ("b", 2), ("c", 5)]
    engine.dispose()


def test_a_postgresql_engine_keeps_two_connections_and_opens_at_most_five():
    with scratch_database() as url:
        engine = open_engine(url)
        assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._pre_ping) == (2, 3, True)
        database = engine.url.database

        def sessions() -> int:
            with engine.connect() as probe:
                return probe.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = :db"), {"db": database}
                ).scalar_one()

        held = [engine.connect() for _ in range(POSTGRES_POOL["pool_size"] + POSTGRES_POOL["max_overflow"])]
        for conn in held:
            conn.execute(text("SELECT 1"))
        assert engine.pool.checkedout() == 5
        for conn in held:
            conn.close()
        # the 3 overflow connections are closed on return, the pool keeps 2 (one of them counts itself here)
        assert engine.pool.checkedin() == 2
        assert sessions() == 2
        engine.dispose()


def test_a_url_is_used_as_given(store_target):
    engine = open_engine(store_target)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    assert engine.dialect.name == ("sqlite" if not isinstance(store_target, str) else "postgresql")
    engine.dispose()


def test_passwords_are_redacted_from_urls():
    assert (
        redacted("postgresql+psycopg://app:s3cret@db:5432/modelyard")
        == "postgresql+psycopg://app:***@db:5432/modelyard"
    )
    assert "s3cret" not in redacted("redis://:s3cret@10.0.0.5:6379/0")
    assert redacted("postgresql+psycopg://app@db/modelyard") == "postgresql+psycopg://app@db/modelyard"
