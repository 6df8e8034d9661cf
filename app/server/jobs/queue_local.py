"""Jobs run on the gateway's own event loop: the queue of a gateway without ``REDIS_URL``.

``concurrency`` tasks take jobs from an :class:`asyncio.Queue`; a :class:`Retry` puts the job back
after its delay, an exception is logged and the job tried again with a growing delay (at most
``max_attempts`` times). The queue lives in memory only: what was queued when the process stopped
is found again in the database at the next start (:func:`app.server.jobs.batch_jobs.open_work`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app.server.jobs.queue import Job, JobHandler, Retry

__all__ = ["LocalQueue"]

log = logging.getLogger(__name__)


class LocalQueue:
    """A :class:`~app.server.jobs.queue.JobQueue` served by tasks in this process.

    Example:
        >>> import asyncio
        >>> async def demo():
        ...     done = []
        ...     async def handler(job):
        ...         done.append(job.args)
        ...     queue = LocalQueue(concurrency=1)
        ...     await queue.start(handler)
        ...     await queue.send(Job("noop", (1,)))
        ...     await queue.join()
        ...     await queue.close()
        ...     return done
        >>> asyncio.run(demo())
        [(1,)]
    """

    runs_here = True

    def __init__(self, concurrency: int = 4, max_attempts: int = 5, backoff_seconds: float = 1.0):
        self.concurrency, self.max_attempts, self.backoff_seconds = concurrency, max_attempts, backoff_seconds
        self._queue: asyncio.Queue[tuple[Job, int]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._later: set[asyncio.TimerHandle] = set()

    async def send(self, *jobs: Job) -> None:
        for job in jobs:
            self._queue.put_nowait((job, 1))

    async def start(self, handler: JobHandler) -> None:
        self._tasks = [
            asyncio.create_task(self._serve(handler), name=f"modelyard-job-{i}") for i in range(self.concurrency)
        ]

    async def join(self) -> None:
        """Wait until every queued job ran (retries scheduled for later are not waited for)."""
        await self._queue.join()

    async def close(self) -> None:
        for handle in self._later:
            handle.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _serve(self, handler: JobHandler) -> None:
        while True:
            job, attempt = await self._queue.get()
            try:
                answer = await handler(job)
                if isinstance(answer, Retry):
                    self._put_later(job, 1, answer.after_seconds)
            except asyncio.CancelledError:
                raise
            except Exception:
                if attempt < self.max_attempts:
                    log.exception("job %s failed (attempt %d); trying again", job, attempt)
                    self._put_later(job, attempt + 1, self.backoff_seconds * 2 ** (attempt - 1))
                else:
                    log.exception("job %s failed %d times; left for the next start", job, attempt)
            finally:
                self._queue.task_done()

    def _put_later(self, job: Job, attempt: int, seconds: float) -> None:
        def put() -> None:
            self._later.discard(handle)
            self._queue.put_nowait((job, attempt))

        handle = asyncio.get_running_loop().call_later(seconds, put)
        self._later.add(handle)
