"""Knowledge ingestion as a background job, with progress: ``knowledge.ingest``.

The upload (``POST /api/knowledge/{collection}/documents``, or the Knowledge page) is stored with the
job in :class:`~store.jobs_db.JobsDB`; the job writes the files under ``data/uploads/<collection>/``
(:mod:`knowledge.uploads`) and ingests them with :meth:`knowledge.KnowledgeBase.ingest` in a worker
thread — reading, splitting and embedding are CPU work that must not hold the event loop — while its
progress callback records files and chunks done of their totals, at most every
:data:`PROGRESS_EVERY_SECONDS` and at every stage change, so polling shows it moving. Ingestion is
idempotent (keyed by each file's hash), so a job run again after its worker died redoes only what was
not written. A :class:`~core.errors.KnowledgeError` (unreadable collection name, a file type no loader
reads) fails the job with its message; the job's files are dropped once it finished.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from app.server.jobs.context import JobContext
from app.server.jobs.queue import Job
from core.errors import KnowledgeError
from store.jobs_db import JobsDB

__all__ = ["HANDLERS", "KIND", "ingest", "open_work"]

KIND = "knowledge.ingest"
PROGRESS_EVERY_SECONDS = 0.25


async def ingest(ctx: JobContext, job_id: str) -> None:
    """Run ingestion job ``job_id`` (a no-op once it finished)."""
    db = ctx.jobs_db
    job = await asyncio.to_thread(db.get, job_id)
    if job is None or not await asyncio.to_thread(db.begin, job_id, ctx.now()):
        return
    files = await asyncio.to_thread(db.files, job_id)
    try:
        result = await asyncio.to_thread(_ingest, db, job_id, job.target, files)
    except KnowledgeError as exc:
        await asyncio.to_thread(db.finish, job_id, ctx.now(), None, str(exc))
        return
    await asyncio.to_thread(db.finish, job_id, ctx.now(), result)


def _ingest(db: JobsDB, job_id: str, collection: str, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    from knowledge import KnowledgeBase
    from knowledge.uploads import save_uploads

    paths = save_uploads(collection, files)
    db.progress(job_id, stage="reading", files_total=len(paths))
    last_stage, last_at = ["reading"], [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage == last_stage[0] and done < total and now - last_at[0] < PROGRESS_EVERY_SECONDS:
            return
        last_stage[0], last_at[0] = stage, now
        if stage == "reading":
            db.progress(job_id, stage=stage, files_done=done, files_total=total)
        else:
            db.progress(job_id, stage=stage, chunks_done=done, chunks_total=total)

    report = KnowledgeBase(collection).ingest(paths, progress=progress)
    return {
        "summary": report.summary(),
        "added": [Path(path).name for path in report.added],
        "updated": [Path(path).name for path in report.updated],
        "unchanged": [Path(path).name for path in report.unchanged],
        "skipped": [{"file": Path(s.path).name, "reason": s.reason} for s in report.skipped],
        "chunks_written": report.chunks_written,
    }


def open_work(db: JobsDB) -> list[Job]:
    """The jobs of every unfinished ingestion (sent again at start without Redis)."""
    return [Job(KIND, (job.id,)) for job in db.unfinished() if job.kind == KIND]


HANDLERS: dict[str, Any] = {KIND: ingest}
"""Job kind → ``async def handler(ctx, *args)``."""
