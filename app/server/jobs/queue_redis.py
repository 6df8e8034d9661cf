"""Jobs on a Redis queue, run by ``python -m app.worker`` processes (Dramatiq).

Why Dramatiq: of the four Redis-backed queues on PyPI it is the one that fits this project and
the durability it needs. arq 0.28 requires ``redis<6`` and Celery 5.7 downgrades
``python-dateutil``; both would move pins other parts of the gateway rely on (``redis==8.1.0``).
RQ marks a dead worker's job failed instead of handing it to another worker. Dramatiq's Redis
broker acknowledges a message only after its actor returned, keeps every fetched message in the
fetching worker's ack set, and puts the ack sets of a worker whose heartbeat is older than
``heartbeat_timeout`` back on the queue — a lease. Its heartbeat is written by every broker
command, and a worker whose threads are all busy issues none, so :class:`WorkerHeartbeat` renews
it every third of the lease: a live worker keeps its jobs however long a line takes, a worker
killed with ``kill -9`` loses them to the others after ``lease_seconds`` (plus one maintenance
pass, which here runs on every command).

Messages carry a :class:`~app.server.jobs.queue.Job` (a kind and ids). One actor,
``modelyard_job``, hands each to the job handler on the worker's event loop; a
:class:`~app.server.jobs.queue.Retry` is sent again with Dramatiq's delay, an exception is retried
by Dramatiq's ``Retries`` middleware with exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future
from typing import Any

import dramatiq
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker
from dramatiq.middleware import CurrentMessage, Retries, ShutdownNotifications

from app.server.jobs.queue import Job, JobHandler, Retry

__all__ = ["ACTOR", "QUEUE", "RedisQueue", "WorkerHeartbeat", "broker_for", "serve"]

log = logging.getLogger(__name__)

QUEUE = "jobs"
"""The one queue name (under the ``<prefix>:dramatiq`` namespace)."""
ACTOR = "modelyard_job"


def broker_for(url: str, prefix: str, lease_seconds: float) -> RedisBroker:
    """A Dramatiq broker on ``url`` under ``<prefix>:dramatiq``, a dead worker's jobs freed after ``lease_seconds``."""
    middleware = [
        CurrentMessage(),
        ShutdownNotifications(),
        Retries(max_retries=20, min_backoff=1000, max_backoff=60_000),
    ]
    return RedisBroker(
        url=url,
        namespace=f"{prefix}:dramatiq",
        middleware=middleware,
        heartbeat_timeout=int(lease_seconds * 1000),
        maintenance_chance=MAINTENANCE_SCALE,  # every command may requeue a dead worker's jobs: the lease is exact
    )


def _message(job: Job) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name=QUEUE, actor_name=ACTOR, args=(job.kind, *job.args), kwargs={}, options={})


class RedisQueue:
    """A :class:`~app.server.jobs.queue.JobQueue` whose jobs workers take from Redis.

    Example:
        >>> queue = RedisQueue("redis://127.0.0.1:6379/0", "modelyard", lease_seconds=60)  # doctest: +SKIP
        >>> await queue.send(Job("batch.start", ("batch_abc",)))  # doctest: +SKIP
    """

    runs_here = False

    def __init__(self, url: str, prefix: str, lease_seconds: float):
        self.broker = broker_for(url, prefix, lease_seconds)

    async def send(self, *jobs: Job) -> None:
        await asyncio.to_thread(self._enqueue, jobs)

    def _enqueue(self, jobs: tuple[Job, ...]) -> None:
        for job in jobs:
            self.broker.enqueue(_message(job))

    async def start(self, handler: JobHandler) -> None:  # the workers run the jobs
        return None

    async def close(self) -> None:
        await asyncio.to_thread(self.broker.close)


class WorkerHeartbeat(threading.Thread):
    """Renews a worker's lease every third of it, whether its threads are busy or not."""

    def __init__(self, broker: RedisBroker, lease_seconds: float):
        super().__init__(name="modelyard-worker-heartbeat", daemon=True)
        self.broker, self.every = broker, lease_seconds / 3
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.broker.do_qsize(QUEUE)  # any broker command writes this worker's heartbeat
            except Exception:  # Redis away: the next beat tries again; the lease may lapse meanwhile
                log.warning("worker heartbeat could not reach Redis", exc_info=True)


async def _coroutine(handler: JobHandler, job: Job) -> Retry | None:
    return await handler(job)


def serve(broker: RedisBroker, handler: JobHandler, loop: asyncio.AbstractEventLoop, threads: int) -> dramatiq.Worker:
    """Start a Dramatiq worker on ``broker`` whose ``threads`` run each job's ``handler`` on ``loop``."""

    def run(kind: str, *args: str | int) -> None:
        job = Job(kind, tuple(args))
        future: Future[Retry | None] = asyncio.run_coroutine_threadsafe(_coroutine(handler, job), loop)
        try:
            answer = future.result()
        except BaseException:
            future.cancel()  # the thread was interrupted (shutdown): stop the coroutine too
            raise
        if isinstance(answer, Retry):
            broker.enqueue(_message(job), delay=int(answer.after_seconds * 1000))

    dramatiq.Actor(run, broker=broker, actor_name=ACTOR, queue_name=QUEUE, priority=0, options={})
    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=threads)
    worker.start()
    return worker
