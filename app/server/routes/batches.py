"""OpenAI's Batch API: ``POST /v1/batches``, ``GET /v1/batches[/{id}]``, ``POST /v1/batches/{id}/cancel``.

Creating a batch stores it in ``validating`` and sends one ``batch.start`` job; the jobs
(:mod:`app.server.jobs.batch_jobs`) run each line through the gateway's own route as the batch's
owner and write the output and error files. Without ``REDIS_URL`` they run in this process; with it,
in ``python -m app.worker`` processes. Batches are owned by the API key that created them; another
key's batch is a 404 like an unknown one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from app.server.dialects.batch import ENDPOINTS, batch_object, page
from app.server.gateway.state import gateway
from app.server.http.auth import KnownKey, require_known_key
from app.server.http.errors import ApiError
from app.server.jobs.queue import Job
from app.server.jobs.runner import JobRunner
from app.server.routes.files import not_found, owner_of
from store.batches_db import BatchRow

__all__ = ["BatchCreateRequest", "router"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["batch"], dependencies=[Depends(require_known_key)])

_WINDOW_SECONDS = {"24h": 86_400}


class BatchCreateRequest(BaseModel):
    """``POST /v1/batches`` (unknown fields are refused by name)."""

    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(min_length=1)
    endpoint: str
    """Every line's ``url``: ``/v1/chat/completions``, ``/v1/responses`` or ``/v1/embeddings``."""
    completion_window: str
    """Only ``24h``: lines not run by then are recorded as ``batch_expired``."""
    metadata: dict[str, str] | None = None
    output_expires_after: dict[str, Any] | None = None


@router.post("/batches")
async def create_batch(body: BatchCreateRequest, request: Request, key: KnownKey) -> dict[str, Any]:
    """Start a batch over an uploaded ``purpose=batch`` file of this key."""
    _check(body)
    jobs, owner = gateway(request).jobs, owner_of(key)
    stored = await asyncio.to_thread(jobs.db.get_file, owner, body.input_file_id, int(time.time()))
    if stored is None:
        raise not_found("file", body.input_file_id, "input_file_id")
    if stored.purpose != "batch":
        raise ApiError(
            400,
            f"input_file_id: {stored.id} is a {stored.purpose} file, not an uploaded batch input file",
            param="input_file_id",
        )
    other = {url: line for url, line in stored.urls.items() if url != body.endpoint}
    if other:
        url, line = min(other.items(), key=lambda item: item[1])
        raise ApiError(
            400,
            f"line {line}: url: {url} is not the batch's endpoint {body.endpoint}; every line of a batch calls one "
            "endpoint",
            param="endpoint",
            code="invalid_batch_input",
            extra={"line": line},
        )
    now = int(time.time())
    batch_id = f"batch_{secrets.token_hex(12)}"
    expires_at = now + _WINDOW_SECONDS[body.completion_window]
    row = await asyncio.to_thread(
        jobs.db.create_batch,
        batch_id,
        owner,
        body.endpoint,
        stored.id,
        body.completion_window,
        now,
        expires_at,
        body.metadata,
    )
    await _send(jobs, row, Job("batch.start", (batch_id,)))
    return await _rendered(jobs, row)


def _check(body: BatchCreateRequest) -> None:
    if body.endpoint not in ENDPOINTS:
        raise ApiError(
            400,
            f"endpoint: {body.endpoint!r} cannot be batched here; use one of {', '.join(ENDPOINTS)}",
            param="endpoint",
            code="unsupported_endpoint",
        )
    if body.completion_window not in _WINDOW_SECONDS:
        raise ApiError(400, "completion_window: only '24h' is supported", param="completion_window")
    if body.output_expires_after is not None:
        raise ApiError(
            400,
            "output_expires_after: not supported here (output and error files expire 30 days after they are "
            "written); leave it out",
            param="output_expires_after",
        )
    metadata = body.metadata or {}
    if len(metadata) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in metadata.items()):
        raise ApiError(
            400, "metadata: at most 16 pairs, keys up to 64 and values up to 512 characters", param="metadata"
        )


async def _send(jobs: JobRunner, row: BatchRow, job: Job) -> None:
    """Queue ``job``; when the queue cannot take it, the batch fails (it would never run) and the caller gets 503."""
    try:
        await jobs.send(job)
    except Exception as exc:
        log.exception("batch %s: the job queue refused %s", row.id, job.kind)
        error = {"code": "queue_unavailable", "message": "the job queue (Redis) could not be reached", "line": None}
        await asyncio.to_thread(jobs.db.fail, row.id, [error], int(time.time()))
        raise ApiError(
            503,
            f"the batch could not be queued: the job queue is unreachable ({type(exc).__name__}); try again",
            code="queue_unavailable",
        ) from None


async def _rendered(jobs: JobRunner, row: BatchRow) -> dict[str, Any]:
    counts = await asyncio.to_thread(jobs.db.counts, row.id)
    return batch_object(row, counts)


@router.get("/batches")
async def list_batches(
    request: Request, key: KnownKey, after: str | None = None, limit: int = Query(20, ge=1, le=100)
) -> dict[str, Any]:
    """This key's batches, newest first (``after``: the last id of the previous page)."""
    jobs = gateway(request).jobs
    rows = await asyncio.to_thread(jobs.db.list_batches, owner_of(key), after, limit + 1)
    data = [await _rendered(jobs, row) for row in rows[:limit]]
    return page(data, has_more=len(rows) > limit)


@router.get("/batches/{batch_id}")
async def get_batch(batch_id: str, request: Request, key: KnownKey) -> dict[str, Any]:
    """A batch of this key, with its request counts so far."""
    jobs = gateway(request).jobs
    row = await asyncio.to_thread(jobs.db.batch, batch_id, owner_of(key))
    if row is None:
        raise not_found("batch", batch_id, "batch_id")
    return await _rendered(jobs, row)


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, request: Request, key: KnownKey) -> dict[str, Any]:
    """Cancel a batch of this key: ``cancelling`` now, ``cancelled`` once finalized (finished lines are kept
    in its output and error files; lines not yet run are not run)."""
    jobs = gateway(request).jobs
    row = await asyncio.to_thread(jobs.db.cancel, owner_of(key), batch_id, int(time.time()))
    if row is None:
        raise not_found("batch", batch_id, "batch_id")
    if row.status not in ("cancelling", "cancelled"):
        raise ApiError(
            409,
            f"batch {batch_id} is {row.status}: only a validating or in_progress batch can be cancelled",
            code="batch_not_cancellable",
        )
    if row.status == "cancelling":
        await jobs.send(Job("batch.finalize", (batch_id,)))
    return await _rendered(jobs, row)
