"""``python -m app.worker [--threads N]``: run the gateway's background jobs (the Batch API's lines) from Redis.

Needs ``REDIS_URL`` (and the gateway's ``MODELYARD_REDIS_PREFIX``, data folder or ``DATABASE_URL``): it
builds the gateway app in this process with :func:`app.server.create_app` — the same registry, keys,
limits, cache and request log as the serving replicas — and posts each job's request to it in-process,
so a batch line takes the one request lifecycle a live call takes. Start as many as the work needs, on
any machine that reaches Redis and the database; a worker killed outright loses its jobs to the others
after ``MODELYARD_JOB_LEASE_SECONDS`` (60 by default). ``SIGTERM`` / ``SIGINT`` stop it after the jobs
in hand. Without ``REDIS_URL`` there is nothing to run: the gateway runs its jobs itself.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal

from app.server.factory import create_app
from app.server.jobs.queue_redis import RedisQueue, WorkerHeartbeat, serve

__all__ = ["main"]

log = logging.getLogger("app.worker")


async def run(threads: int) -> None:
    """Serve jobs with ``threads`` concurrent jobs until a stop signal."""
    app = create_app(knowledge=False)
    jobs = app.state.gateway.jobs
    if not isinstance(jobs.queue, RedisQueue):
        raise SystemExit("python -m app.worker needs REDIS_URL: without it the gateway runs its jobs itself")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for name in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(name, stop.set)
    async with app.router.lifespan_context(app):  # opens the app as uvicorn would, and closes it after
        worker = await asyncio.to_thread(serve, jobs.queue.broker, jobs.handle, loop, threads)
        heartbeat = WorkerHeartbeat(jobs.queue.broker, jobs.settings.lease_seconds)
        heartbeat.start()
        log.warning("modelyard worker %d: serving jobs with %d threads", os.getpid(), threads)
        await stop.wait()
        heartbeat.stopping.set()
        await asyncio.to_thread(worker.stop)  # the jobs in hand finish on this loop meanwhile


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.worker", description="Run Modelyard's background jobs.")
    parser.add_argument("--threads", type=int, default=8, help="jobs run at once (default 8)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if not os.environ.get("REDIS_URL"):
        parser.error("set REDIS_URL (the Redis the gateway replicas use): without it the gateway runs its jobs itself")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args.threads))


if __name__ == "__main__":
    main()
