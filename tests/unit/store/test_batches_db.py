"""The Batch API's store on SQLite and PostgreSQL: a line is written once (the first answer wins), a
finalizer finishes a batch once, everything a client reads is its owner's, expired files are gone."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from store.batches_db import BatchesDB

CHAT = "/v1/chat/completions"


def _request(text: str) -> dict:
    return {"method": "POST", "url": CHAT, "body": {"model": "m", "messages": [{"role": "user", "content": text}]}}


@pytest.fixture
def db(store_target):
    opened = BatchesDB(store_target)
    yield opened
    opened.close()


def _started(db: BatchesDB, batch_id: str = "batch_1", owner: str = "key_a", lines: int = 3) -> None:
    db.put_file("file-in", owner, "batch", "in.jsonl", b"{}", 100, {CHAT: 1})
    db.create_batch(batch_id, owner, CHAT, "file-in", "24h", 100, 100 + 86_400, {"team": "a"})
    assert db.start(batch_id, [(n, f"c{n}", _request(f"q{n}")) for n in range(1, lines + 1)], 101)


def test_a_line_is_written_once_and_the_first_answer_wins(db):
    _started(db)
    assert db.finish_line("batch_1", 2, "succeeded", {"custom_id": "c2", "answer": "first"}, (3, 4))
    assert not db.finish_line("batch_1", 2, "failed", {"custom_id": "c2", "answer": "second"})
    line = db.line("batch_1", 2)
    assert (line.outcome, line.output["answer"], line.request["body"]["messages"][0]["content"]) == (
        "succeeded",
        "first",
        "q2",
    )
    counts = db.counts("batch_1")
    assert (counts.total, counts.succeeded, counts.failed, counts.pending) == (3, 1, 0, 2)
    assert (counts.input_tokens, counts.output_tokens) == (3, 4)
    assert db.pending_lines("batch_1") == [1, 3]


def test_starting_twice_writes_the_lines_once_and_custom_ids_are_unique(db):
    _started(db)
    assert not db.start("batch_1", [(9, "c9", _request("late"))], 102)  # no longer validating
    assert db.counts("batch_1").total == 3
    db.create_batch("batch_2", "key_a", CHAT, "file-in", "24h", 100, 200, None)
    with pytest.raises(IntegrityError):
        db.start("batch_2", [(1, "same", _request("a")), (2, "same", _request("b"))], 101)
    assert db.batch("batch_2").status == "validating" and db.counts("batch_2").total == 0  # rolled back whole


def test_finalizing_is_one_guarded_transaction(db):
    _started(db)
    db.finish_line("batch_1", 1, "succeeded", {"custom_id": "c1"})
    db.finish_line("batch_1", 2, "failed", {"custom_id": "c2", "error": {"code": "budget_exceeded"}})
    db.finish_line("batch_1", 3, "succeeded", {"custom_id": "c3"})
    db.begin_finalizing("batch_1", 150)
    assert db.batch("batch_1").status == "finalizing"
    outputs = {"output_file_id": ("file-out", b"ok\n"), "error_file_id": ("file-err", b"bad\n")}
    assert db.finalize("batch_1", "completed", outputs, 160, 999_999)
    again = {"output_file_id": ("file-out-2", b"again\n"), "error_file_id": None}
    assert not db.finalize("batch_1", "completed", again, 170, 999_999)  # another finalizer was first
    batch = db.batch("batch_1", "key_a")
    assert (batch.status, batch.times["completed_at"], batch.times["finalizing_at"]) == ("completed", 160, 150)
    assert (batch.output_file_id, batch.error_file_id) == ("file-out", "file-err")
    assert (
        db.file_content("key_a", "file-out") == b"ok\n" and db.get_file("key_a", "file-out").purpose == "batch_output"
    )
    assert db.get_file("key_a", "file-out-2") is None
    assert [outcome for outcome, _ in db.outputs("batch_1")] == ["succeeded", "failed", "succeeded"]


def test_cancelling_leaves_the_pending_lines_cancelled_and_late_answers_out(db):
    _started(db)
    db.finish_line("batch_1", 1, "succeeded", {"custom_id": "c1"})
    assert db.cancel("key_b", "batch_1", 120) is None  # not the owner's
    assert db.cancel("key_a", "batch_1", 120).status == "cancelling"
    assert db.finalize("batch_1", "cancelled", {"output_file_id": None, "error_file_id": None}, 130, None)
    assert not db.finish_line("batch_1", 2, "succeeded", {"custom_id": "c2"})  # arrived after the cancel
    counts = db.counts("batch_1")
    assert (counts.succeeded, counts.pending, counts.total) == (1, 0, 3)
    assert db.cancel("key_a", "batch_1", 140).status == "cancelled"  # finished: unchanged


def test_reads_are_the_owners_and_pages_follow_the_cursor(db):
    for n in range(5):
        db.put_file(f"file-{n}", "key_a", "batch", f"{n}.jsonl", b"x", 100 + n, {CHAT: 1})
        db.create_batch(f"batch_{n}", "key_a", CHAT, f"file-{n}", "24h", 100 + n, 200 + n, None)
    db.put_file("file-b", "key_b", "batch", "b.jsonl", b"y", 100, {CHAT: 1})
    assert db.get_file("key_b", "file-0") is None and db.file_content("key_b", "file-0") is None
    assert db.batch("batch_0", "key_b") is None and db.batch("batch_0", "key_a") is not None
    first = db.list_batches("key_a", None, 2)
    rest = db.list_batches("key_a", first[-1].id, 10)
    assert [b.id for b in first + rest] == [f"batch_{n}" for n in (4, 3, 2, 1, 0)]
    assert [f.id for f in db.list_files("key_a", "batch", "file-2", 10)] == ["file-1", "file-0"]
    assert [f.id for f in db.list_files("key_b", None, None, 10)] == ["file-b"]
    assert not db.delete_file("key_b", "file-0") and db.delete_file("key_a", "file-0")
    assert db.get_file("key_a", "file-0") is None


def test_an_expired_file_is_gone(db):
    db.put_file("file-x", "key_a", "batch", "x.jsonl", b"x", 100, {}, expires_at=200)
    assert db.get_file("key_a", "file-x", now=199) is not None
    assert db.get_file("key_a", "file-x", now=200) is None
    assert db.file_content("key_a", "file-x", now=250) is None
    assert db.list_files("key_a", None, None, 10, now=250) == []


def test_open_batches_are_the_ones_with_work_left(db):
    _started(db)
    db.create_batch("batch_v", "key_a", CHAT, "file-in", "24h", 100, 200, None)
    db.create_batch("batch_f", "key_a", CHAT, "file-in", "24h", 100, 200, None)
    db.fail("batch_f", [{"code": "file_not_found", "message": "gone", "line": None}], 110)
    assert {b.id for b in db.open_batches()} == {"batch_1", "batch_v"}
    failed = db.batch("batch_f")
    assert failed.status == "failed" and failed.errors[0]["code"] == "file_not_found" and failed.times["failed_at"]
