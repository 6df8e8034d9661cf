"""The batch jobs against a real store and a small real ASGI app in the gateway's place: a line refused
with the key's own 429 is tried again later (nothing recorded), its next answer is kept; lines past the
completion window are not run and make the batch ``expired``; a line is never written twice."""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.server.http.auth import ACTING_KEY_SCOPE
from app.server.jobs import batch_jobs
from app.server.jobs.acting import ActingClient
from app.server.jobs.context import JobContext
from app.server.jobs.queue import Job, Retry
from app.server.jobs.settings import JobSettings
from store.batches_db import BatchesDB
from store.jobs_db import JobsDB

CHAT = "/v1/chat/completions"
NOW = 1_000_000


class Gateway:
    """Answers chat requests in order from ``answers`` (status, body, headers) and records who asked."""

    def __init__(self, answers: list[tuple[int, dict, dict[str, str]]]):
        self.answers, self.asked = answers, []

    def app(self) -> Starlette:
        async def chat(request: Request) -> JSONResponse:
            self.asked.append((request.scope.get(ACTING_KEY_SCOPE), await request.json()))
            status, body, headers = self.answers.pop(0)
            return JSONResponse(body, status_code=status, headers=headers)

        return Starlette(routes=[Route(CHAT, chat, methods=["POST"])])


@pytest.fixture
def stores(tmp_path):
    batches, jobs = BatchesDB(tmp_path / "batches.sqlite"), JobsDB(tmp_path / "jobs.sqlite")
    yield batches, jobs
    batches.close()
    jobs.close()


def _context(stores, gateway: Gateway | None, sent: list[Job], now: int = NOW) -> JobContext:
    async def send(*jobs: Job) -> None:
        sent.extend(jobs)

    caller = ActingClient(gateway.app()) if gateway is not None else None
    return JobContext(stores[0], stores[1], send, caller, JobSettings(retry_after_seconds=3), lambda: float(now))


def _batch(db: BatchesDB, lines: int, expires_at: int = NOW + 86_400) -> str:
    content = "".join(
        json.dumps(
            {
                "custom_id": f"c{n}",
                "method": "POST",
                "url": CHAT,
                "body": {"model": "m", "messages": [{"role": "user", "content": f"q{n}"}]},
            }
        )
        + "\n"
        for n in range(1, lines + 1)
    )
    db.put_file("file-in", "key_a", "batch", "in.jsonl", content.encode(), NOW, {CHAT: 1})
    db.create_batch("batch_1", "key_a", CHAT, "file-in", "24h", NOW, expires_at, None)
    return "batch_1"


async def test_a_rate_limited_line_is_tried_again_and_its_later_answer_kept(stores):
    db, sent = stores[0], []
    refused = {"error": {"code": "rate_limit_exceeded", "message": "key over 2 rpm"}}
    answer = {
        "id": "chatcmpl-1",
        "choices": [{"message": {"content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1},
    }
    gateway = Gateway([(429, refused, {"Retry-After": "7"}), (200, answer, {})])
    ctx = _context(stores, gateway, sent)
    batch_id = _batch(db, 1)
    await batch_jobs.start_batch(ctx, batch_id)
    assert sent == [Job("batch.line", (batch_id, 1))] and db.batch(batch_id).dispatched

    assert await batch_jobs.run_line(ctx, batch_id, 1) == Retry(7.0)  # the gateway's Retry-After
    assert db.line(batch_id, 1).outcome == "pending"
    assert await batch_jobs.run_line(ctx, batch_id, 1) is None
    line = db.line(batch_id, 1)
    assert line.outcome == "succeeded" and line.output["response"]["request_id"] == "chatcmpl-1"
    assert [owner for owner, _ in gateway.asked] == ["key_a", "key_a"]  # as the batch's owner, both times
    assert await batch_jobs.run_line(ctx, batch_id, 1) is None and len(gateway.asked) == 2  # not run again
    assert sent[-1] == Job("batch.finalize", (batch_id,))
    await batch_jobs.finalize(ctx, batch_id)
    done = db.batch(batch_id)
    assert done.status == "completed" and done.output_file_id and done.error_file_id is None
    counts = db.counts(batch_id)
    assert (counts.succeeded, counts.input_tokens, counts.output_tokens) == (1, 3, 1)


async def test_lines_past_the_completion_window_are_not_run_and_the_batch_expires(stores):
    db, sent = stores[0], []
    batch_id = _batch(db, 2, expires_at=NOW + 10)
    await batch_jobs.start_batch(_context(stores, None, sent), batch_id)
    late = _context(stores, None, sent, now=NOW + 10)  # no gateway at all: an expired line calls nothing
    for line_no in (1, 2):
        assert await batch_jobs.run_line(late, batch_id, line_no) is None
    await batch_jobs.finalize(late, batch_id)
    batch = db.batch(batch_id)
    assert batch.status == "expired" and batch.times["expired_at"] == NOW + 10 and batch.output_file_id is None
    errors = [json.loads(line) for line in db.file_content("key_a", batch.error_file_id).decode().splitlines()]
    assert [e["custom_id"] for e in errors] == ["c1", "c2"]
    assert all(e["response"] is None and e["error"]["code"] == "batch_expired" for e in errors)


async def test_open_work_names_what_finishes_every_open_batch(stores):
    db, sent = stores[0], []
    batch_id = _batch(db, 3)
    assert batch_jobs.open_work(db) == [Job("batch.start", (batch_id,))]
    ctx = _context(stores, Gateway([(200, {"id": "x"}, {})]), sent)
    await batch_jobs.start_batch(ctx, batch_id)
    await batch_jobs.run_line(ctx, batch_id, 2)
    assert batch_jobs.open_work(db) == [Job("batch.line", (batch_id, 1)), Job("batch.line", (batch_id, 3))]
