"""What a job function is given: the stores, the queue to send follow-ups to, and the in-process caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.server.jobs.acting import ActingClient
from app.server.jobs.settings import JobSettings
from store.batches_db import BatchesDB
from store.jobs_db import JobsDB

__all__ = ["JobContext"]


@dataclass(frozen=True)
class JobContext:
    """One process's means to run jobs (built by :class:`~app.server.jobs.runner.JobRunner`)."""

    db: BatchesDB
    """The Batch API's files, batches and lines."""
    jobs_db: JobsDB
    """Long jobs' progress and uploads (knowledge ingestion)."""
    send: Callable[..., Awaitable[None]]
    """``await send(job, ...)``: queue follow-up jobs (:class:`~app.server.jobs.queue.Job`)."""
    caller: ActingClient | None
    """Requests to the gateway app in this process (``None`` where no app runs here: the Streamlit app)."""
    settings: JobSettings
    clock: Callable[[], float]
    """Epoch seconds now."""

    def now(self) -> int:
        return int(self.clock())
