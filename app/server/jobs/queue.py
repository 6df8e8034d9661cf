"""The job queue seam: what a gateway sends background work through, and who runs it.

A :class:`Job` is a kind (``batch.start``, ``batch.line``, ``batch.finalize`` …) and a few plain
arguments — ids, never payloads: the work itself is in the database, so a job delivered twice, or
again after a worker died, reads the current state and does only what is left. A handler answers
``None`` (done: acknowledge) or :class:`Retry` (not now: send it again after a while, e.g. a line
refused with 429); an exception is an infrastructure failure, retried with backoff by the backend.

Two backends, chosen by :func:`open_queue` from ``GatewaySettings.redis_url`` like the limit store:

* :class:`~app.server.jobs.queue_local.LocalQueue` — no Redis: jobs run as tasks on the gateway's own
  event loop, so ``make run`` needs nothing new. Nothing is kept outside the database: at start the
  gateway re-sends the work of every open batch (:func:`app.server.jobs.batch_jobs.open_work`).
* :class:`~app.server.jobs.queue_redis.RedisQueue` — ``REDIS_URL``: jobs go to a Redis queue and are
  run by ``python -m app.worker`` processes (Dramatiq; why Dramatiq is said there).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.server.gateway.settings import GatewaySettings

__all__ = ["Job", "JobHandler", "JobQueue", "Retry", "open_queue"]


@dataclass(frozen=True)
class Job:
    """One unit of background work.

    Example:
        >>> Job("batch.line", ("batch_abc", 3))
        Job(kind='batch.line', args=('batch_abc', 3))
    """

    kind: str
    args: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Retry:
    """A handler's answer: run the job again after ``after_seconds`` (nothing was recorded)."""

    after_seconds: float


JobHandler = Callable[[Job], Awaitable[Retry | None]]
"""Runs one job (see the module docstring for what its answer means)."""


class JobQueue(Protocol):
    """Where jobs are sent; ``runs_here`` says whether this process also runs them."""

    runs_here: bool

    async def send(self, *jobs: Job) -> None:
        """Queue ``jobs`` (durably, for the Redis backend, before this returns)."""
        ...

    async def start(self, handler: JobHandler) -> None:
        """Begin running queued jobs with ``handler`` (a no-op where another process runs them)."""
        ...

    async def close(self) -> None:
        """Stop: running jobs are cancelled (their lines stay pending and run again later)."""
        ...


def open_queue(settings: GatewaySettings) -> JobQueue:
    """The queue ``settings`` ask for: Redis with ``redis_url``, else this process."""
    if settings.redis_url:
        from app.server.jobs.queue_redis import RedisQueue

        return RedisQueue(settings.redis_url, settings.redis_prefix, settings.jobs.lease_seconds)
    from app.server.jobs.queue_local import LocalQueue

    return LocalQueue(settings.jobs.local_concurrency)
