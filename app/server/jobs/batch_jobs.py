"""The Batch API's jobs: start a batch, run one line, finalize — each safe to run twice.

* ``batch.start`` — reads the input file into the batch's lines and moves it from ``validating`` to
  ``in_progress`` (one transaction), then sends one ``batch.line`` job per pending line.
* ``batch.line`` — posts the line to the gateway's own route as the batch's owner
  (:mod:`app.server.jobs.acting`) and writes its output line *before* the job is acknowledged; a
  line already finished (a second delivery, a re-run after a worker died) is skipped, and of two
  concurrent runs the first answer is kept (:meth:`store.batches_db.BatchesDB.finish_line`). A 429
  from the key's own rate limit, or 503 with Redis away, is not an answer: the line is tried again
  later (:class:`~app.server.jobs.queue.Retry`). A 402 (budget spent) *is* one, and so is every other
  error status: it goes to the error file with the route's own error body. After the completion
  window a line is not run: it is recorded with OpenAI's ``batch_expired`` error.
* ``batch.finalize`` — once no line is pending (or when cancelling), writes the output file (lines
  that answered 2xx) and the error file (the others) and the final status in one transaction.

Every job re-reads the batch first, so a job for a batch that was cancelled, finished or deleted is
a no-op. :func:`open_work` lists the jobs that finish every open batch from the database alone — a
gateway without Redis sends them at start, since its in-memory queue did not survive the restart.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx

from app.server.dialects.batch import BatchInputError, output_line, parse_input
from app.server.jobs.context import JobContext
from app.server.jobs.queue import Job, Retry
from store.batches_db import BatchesDB, BatchRow

__all__ = ["HANDLERS", "finalize", "open_work", "run_line", "start_batch"]

_RETRIED = {(429, "rate_limit_exceeded"), (503, "shared_state_unavailable")}
"""Refusals that say "not now" rather than "no": the line runs again later."""

_EXPIRED = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}


async def start_batch(ctx: JobContext, batch_id: str) -> None:
    """``validating`` → ``in_progress`` with the lines read from the input file; then queue the lines."""
    row = await asyncio.to_thread(ctx.db.batch, batch_id)
    if row is None:
        return
    if row.status == "validating":
        if not await _read_lines(ctx, row):
            return
        row = await asyncio.to_thread(ctx.db.batch, batch_id)
        assert row is not None
    if row.status == "in_progress" and not row.dispatched:
        pending = await asyncio.to_thread(ctx.db.pending_lines, batch_id)
        await ctx.send(*(Job("batch.line", (batch_id, line_no)) for line_no in pending))
        await asyncio.to_thread(ctx.db.mark_dispatched, batch_id)
        if not pending:
            await ctx.send(Job("batch.finalize", (batch_id,)))
    elif row.status == "cancelling":
        await ctx.send(Job("batch.finalize", (batch_id,)))


async def _read_lines(ctx: JobContext, row: BatchRow) -> bool:
    """Insert the batch's lines and start it; ``False`` when it failed (or another start got there)."""
    content = await asyncio.to_thread(ctx.db.file_content, row.owner, row.input_file_id)
    if content is None:
        message = f"input file {row.input_file_id} was deleted"
        missing: dict[str, Any] = {"code": "file_not_found", "message": message, "param": "input_file_id", "line": None}
        await asyncio.to_thread(ctx.db.fail, row.id, [missing], ctx.now())
        return False
    try:
        parsed = await asyncio.to_thread(lambda: list(parse_input(content, ctx.settings.max_lines)))
        wrong = next((line for line in parsed if line.request["url"] != row.endpoint), None)
        if wrong is not None:
            raise BatchInputError(f"url: {wrong.request['url']} is not the batch's endpoint", line=wrong.line_no)
    except BatchInputError as exc:
        error = {"code": "invalid_request", "message": str(exc), "param": exc.param, "line": exc.line}
        await asyncio.to_thread(ctx.db.fail, row.id, [error], ctx.now())
        return False
    requests = [(line.line_no, line.custom_id, line.request) for line in parsed]
    return await asyncio.to_thread(ctx.db.start, row.id, requests, ctx.now())


async def run_line(ctx: JobContext, batch_id: str, line_no: int) -> Retry | None:
    """Run one pending line through the gateway and record its output line (see the module docstring)."""
    row = await asyncio.to_thread(ctx.db.batch, batch_id)
    if row is None or row.status != "in_progress":
        return None  # cancelling / finished: the finalizer decides what the line becomes
    line = await asyncio.to_thread(ctx.db.line, batch_id, line_no)
    if line is None or line.outcome != "pending":
        await _finalize_when_done(ctx, batch_id)
        return None
    line_id = f"batch_req_{secrets.token_hex(12)}"
    if ctx.now() >= row.expires_at:
        output = output_line(line_id, line.custom_id, None, "", None, _EXPIRED)
        await asyncio.to_thread(ctx.db.finish_line, batch_id, line_no, "failed", output)
        await _finalize_when_done(ctx, batch_id)
        return None
    if ctx.caller is None:
        raise RuntimeError("batch lines run only where the gateway app runs (JobRunner.start(app))")
    answer = await ctx.caller.post(row.owner, line.request["url"], line.request["body"])
    body = _json(answer)
    error = body.get("error") if isinstance(body, dict) and answer.status_code >= 400 else None
    code = error.get("code") if isinstance(error, dict) else None
    if (answer.status_code, code) in _RETRIED:
        return Retry(_retry_after(answer, ctx.settings.retry_after_seconds))
    request_id = str(body.get("id") or "") if isinstance(body, dict) else ""
    request_id = request_id or f"req_{secrets.token_hex(12)}"
    succeeded = answer.status_code < 400
    failure = None if succeeded else _line_error(answer.status_code, error)
    output = output_line(line_id, line.custom_id, answer.status_code, request_id, body, failure)
    outcome = "succeeded" if succeeded else "failed"
    await asyncio.to_thread(ctx.db.finish_line, batch_id, line_no, outcome, output, _tokens(body))
    await _finalize_when_done(ctx, batch_id)
    return None


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return {"error": {"code": "invalid_response", "message": answer.text[:500]}}


def _retry_after(answer: httpx.Response, default: float) -> float:
    try:
        return max(0.1, float(answer.headers.get("retry-after", default)))
    except ValueError:
        return default


def _line_error(status: int, error: Any) -> dict[str, Any]:
    if isinstance(error, dict):
        return {"code": str(error.get("code") or error.get("type") or status), "message": str(error.get("message", ""))}
    return {"code": str(status), "message": f"the request was answered with status {status}"}


def _tokens(body: Any) -> tuple[int, int]:
    """Input and output tokens of an answer, in Chat Completions' or the Responses API's usage names."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    tokens_in = usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0
    tokens_out = usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0
    return int(tokens_in), int(tokens_out)


async def _finalize_when_done(ctx: JobContext, batch_id: str) -> None:
    counts = await asyncio.to_thread(ctx.db.counts, batch_id)
    if counts.pending == 0:  # several lines may see this at once: finalizing is idempotent
        await ctx.send(Job("batch.finalize", (batch_id,)))


async def finalize(ctx: JobContext, batch_id: str) -> None:
    """Write the output and error files and the final status (``completed``, ``expired``, ``cancelled``)."""
    row = await asyncio.to_thread(ctx.db.batch, batch_id)
    if row is None or row.status not in ("in_progress", "finalizing", "cancelling"):
        return
    if row.status == "in_progress":
        if (await asyncio.to_thread(ctx.db.counts, batch_id)).pending:
            return  # a line is still to run; the last one to finish sends this job again
        await asyncio.to_thread(ctx.db.begin_finalizing, batch_id, ctx.now())
    await asyncio.to_thread(_write_outputs, ctx.db, row, ctx.now(), ctx.settings.output_retention_days)


def _write_outputs(db: BatchesDB, row: BatchRow, now: int, retention_days: float) -> None:
    finished = db.outputs(row.id)
    succeeded = [output for outcome, output in finished if outcome == "succeeded"]
    failed = [output for outcome, output in finished if outcome == "failed"]
    expired = any((output.get("error") or {}).get("code") == "batch_expired" for output in failed)
    status = "cancelled" if row.status == "cancelling" else "expired" if expired else "completed"
    outputs = {"output_file_id": _jsonl(succeeded), "error_file_id": _jsonl(failed)}
    db.finalize(row.id, status, outputs, now, now + int(retention_days * 86_400))


def _jsonl(output_lines: list[dict[str, Any]]) -> tuple[str, bytes] | None:
    if not output_lines:
        return None
    content = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in output_lines)
    return f"file-{secrets.token_hex(12)}", content.encode()


def open_work(db: BatchesDB) -> list[Job]:
    """The jobs that take every open batch to its end, from the database alone."""
    jobs: list[Job] = []
    for row in db.open_batches():
        if row.status == "validating" or (row.status == "in_progress" and not row.dispatched):
            jobs.append(Job("batch.start", (row.id,)))
        elif row.status == "in_progress":
            pending = db.pending_lines(row.id)
            jobs += [Job("batch.line", (row.id, line_no)) for line_no in pending]
            if not pending:
                jobs.append(Job("batch.finalize", (row.id,)))
        else:  # finalizing, cancelling
            jobs.append(Job("batch.finalize", (row.id,)))
    return jobs


HANDLERS: dict[str, Any] = {"batch.start": start_batch, "batch.line": run_line, "batch.finalize": finalize}
"""Job kind → ``async def handler(ctx, *args)``."""
