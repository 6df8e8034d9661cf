"""The API-key table on a real SQLite file and a real PostgreSQL database: insert, list, revoke,
spend increments, counting."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading

import pytest
from sqlalchemy.exc import IntegrityError

from store.api_keys_db import ApiKeysDB, StoredKey, count_active_keys


def _key(key_id: str, **fields) -> StoredKey:
    values = {
        "name": f"team {key_id}",
        "secret_sha256": f"hash-{key_id}",
        "prefix": "my-AbCdE",
        "allowed_models": (),
        "created": 1.0,
        **fields,
    }
    return StoredKey(id=key_id, **values)


def test_keys_round_trip_with_their_settings(store_target):
    db = ApiKeysDB(store_target)
    db.insert(_key("key_a", allowed_models=("m1", "m2"), rpm=5, tpm=500, budget_usd=2.5, created=1.0))
    db.insert(_key("key_b", created=2.0))
    first, second = db.all()
    assert first == _key("key_a", allowed_models=("m1", "m2"), rpm=5, tpm=500, budget_usd=2.5, created=1.0)
    assert second.id == "key_b" and second.allowed_models == () and second.rpm is None and second.active
    reopened = ApiKeysDB(store_target)
    assert [k.id for k in reopened.all()] == ["key_a", "key_b"]


def test_duplicate_ids_and_hashes_are_refused(store_target):
    db = ApiKeysDB(store_target)
    db.insert(_key("key_a"))
    with pytest.raises(IntegrityError):
        db.insert(_key("key_a", secret_sha256="other"))
    with pytest.raises(IntegrityError):
        db.insert(_key("key_b", secret_sha256="hash-key_a"))


def test_revoke_keeps_the_first_time_and_reports_unknown_ids(store_target):
    db = ApiKeysDB(store_target)
    db.insert(_key("key_a"))
    assert db.revoke("key_a", at=100.0) == 100.0
    assert db.revoke("key_a", at=200.0) == 100.0
    assert db.revoke("key_missing") is None
    assert db.all()[0].revoked_at == 100.0 and not db.all()[0].active


def test_spend_increments_from_two_writers_add_up(store_target):
    path = store_target
    ApiKeysDB(path).insert(_key("key_a", spent_usd=1.0))
    writers = [ApiKeysDB(path) for _ in range(2)]

    def spend(db: ApiKeysDB) -> None:
        for _ in range(50):
            db.add_spend({"key_a": 0.5})

    threads = [threading.Thread(target=spend, args=(db,)) for db in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers[0].add_spend({})
    assert ApiKeysDB(path).all()[0].spent_usd == pytest.approx(1.0 + 2 * 50 * 0.5)


def test_count_active_keys_never_creates_the_file(tmp_path):
    path = tmp_path / "keys.sqlite"
    assert count_active_keys(path) == 0 and not path.exists()
    db = ApiKeysDB(path)
    assert count_active_keys(path) == 0
    db.insert(_key("key_a"))
    db.insert(_key("key_b"))
    db.revoke("key_b")
    assert count_active_keys(path) == 1
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE unrelated (x)").connection.commit()
    assert count_active_keys(other) == 0


def test_one_connection_shared_by_threads_serialises_its_transactions(store_target):
    # a revoke or an insert during the spend writer's flush used to fail with "cannot start a
    # transaction within a transaction", and an insert inside a flush that rolled back was lost
    db = ApiKeysDB(store_target)
    for i in range(20):
        db.insert(_key(f"key_{i}"))
    errors: list[BaseException] = []

    def flush() -> None:
        try:
            for _ in range(200):
                db.add_spend({f"key_{i}": 0.01 for i in range(20)})
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    def administer() -> None:
        try:
            for i in range(20):
                db.revoke(f"key_{i}")
                db.insert(_key(f"new_{i}", secret_sha256=f"hash-new-{i}"))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=flush), threading.Thread(target=administer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    reopened = {k.id: k for k in ApiKeysDB(store_target).all()}
    assert all(f"new_{i}" in reopened for i in range(20))  # no insert was lost
    assert all(not reopened[f"key_{i}"].active for i in range(20))
    assert reopened["key_0"].spent_usd == pytest.approx(2.0)


def test_count_active_keys_in_a_database_never_migrates_it(store_target):
    if not isinstance(store_target, str):
        store_target = f"sqlite:///{store_target}"
    assert count_active_keys(store_target) == 0  # no table yet, and none created
    db = ApiKeysDB(store_target)
    db.insert(_key("key_a"))
    db.insert(_key("key_b"))
    db.revoke("key_a")
    assert count_active_keys(store_target) == 1


def test_data_version_moves_with_every_write_from_any_connection(store_target):
    mine, other = ApiKeysDB(store_target), ApiKeysDB(store_target)  # two engines, as two processes
    seen = mine.data_version()
    other.insert(_key("key_a"))
    assert mine.data_version() == seen + 1
    mine.add_spend({"key_a": 0.5})
    other.revoke("key_a")
    assert other.data_version() == mine.data_version() == seen + 3
    mine.add_spend({})  # nothing written, nothing counted
    assert mine.data_version() == seen + 3


def _spend_from_a_process(target, start) -> None:
    db = ApiKeysDB(target)
    start.wait()
    for _ in range(50):
        db.add_spend({"key_a": 0.5, "key_b": 0.25})
    db.close()


def test_spend_increments_from_two_processes_add_up(store_target):
    ApiKeysDB(store_target).insert(_key("key_a", spent_usd=1.0))
    ApiKeysDB(store_target).insert(_key("key_b"))
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=_spend_from_a_process, args=(store_target, start)) for _ in range(2)]
    for writer in writers:
        writer.start()
    start.set()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    spent = {key.id: key.spent_usd for key in ApiKeysDB(store_target).all()}
    assert spent == {"key_a": pytest.approx(1.0 + 2 * 50 * 0.5), "key_b": pytest.approx(2 * 50 * 0.25)}
