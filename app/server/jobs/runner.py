"""The jobs of one process: where they are sent, and — where this process runs them — how.

:class:`JobRunner` is what the gateway keeps (``Gateway.jobs``): routes ``send`` jobs through it,
and ``start`` (the app's lifespan, or ``python -m app.worker``) gives it the app its jobs post to.
A job's kind is looked up in one registry (:data:`HANDLERS`: the batch jobs, then any other
background work), so a new kind of job is one entry, served by both queue backends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

from app.server.jobs import batch_jobs, knowledge_jobs
from app.server.jobs.acting import ActingClient
from app.server.jobs.context import JobContext
from app.server.jobs.queue import Job, JobQueue, Retry
from app.server.jobs.settings import JobSettings
from store.batches_db import BatchesDB
from store.jobs_db import JobsDB

__all__ = ["HANDLERS", "JobRunner"]

HANDLERS: dict[str, Any] = {**batch_jobs.HANDLERS, **knowledge_jobs.HANDLERS}
"""Job kind → ``async def handler(ctx: JobContext, *args) -> Retry | None``."""


class JobRunner:
    """Sends jobs to ``queue`` and, once started, runs those this process takes.

    Args:
        queue: the backend (:func:`app.server.jobs.queue.open_queue`).
        db: the Batch API's store.
        jobs_db: the long jobs' store (knowledge ingestion).
        settings: the jobs' settings.
        clock: epoch seconds now.
    """

    def __init__(
        self,
        queue: JobQueue,
        db: BatchesDB,
        jobs_db: JobsDB,
        settings: JobSettings,
        clock: Callable[[], float] = time.time,
    ):
        self.queue, self.db, self.jobs_db, self.settings, self.clock = queue, db, jobs_db, settings, clock
        self._context: JobContext | None = None

    async def send(self, *jobs: Job) -> None:
        await self.queue.send(*jobs)

    async def start(self, app: ASGIApp | None) -> None:
        """Run jobs from now on: here, when the queue runs here (with the open work sent again, since an
        in-memory queue did not outlive the last process); in a worker, when ``python -m app.worker``
        calls :meth:`handle` for each job it takes. ``app`` is what batch lines are posted to; without
        one (the Streamlit app) only jobs that need no gateway run, and open batches are left alone."""
        caller = ActingClient(app) if app is not None else None
        self._context = JobContext(self.db, self.jobs_db, self.send, caller, self.settings, self.clock)
        if self.queue.runs_here:
            await self.queue.start(self.handle)
            await self.send(*await asyncio.to_thread(self._open_work, app is not None))

    def _open_work(self, batches: bool) -> list[Job]:
        work = knowledge_jobs.open_work(self.jobs_db)
        return [*batch_jobs.open_work(self.db), *work] if batches else work

    async def handle(self, job: Job) -> Retry | None:
        """Run ``job`` (its kind must be in :data:`HANDLERS`)."""
        if self._context is None:
            raise RuntimeError("JobRunner.start(app) was not called")
        handler = HANDLERS.get(job.kind)
        if handler is None:
            raise ValueError(f"unknown job kind {job.kind!r}; known: {', '.join(HANDLERS)}")
        answer: Retry | None = await handler(self._context, *job.args)
        return answer

    async def close(self) -> None:
        await self.queue.close()
        if self._context is not None and self._context.caller is not None:
            await self._context.caller.aclose()
        await asyncio.to_thread(self.db.close)
        await asyncio.to_thread(self.jobs_db.close)
