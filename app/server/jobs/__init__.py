"""Background work of the gateway: the job queue seam and its two backends, the jobs, and the in-process caller.

:mod:`~app.server.jobs.queue` (the seam, :func:`open_queue`), :mod:`~app.server.jobs.queue_local`
(no Redis: tasks on the gateway's loop), :mod:`~app.server.jobs.queue_redis` (Dramatiq on Redis, run
by ``python -m app.worker``), :mod:`~app.server.jobs.runner` (``Gateway.jobs``: send, start, the
kind → handler registry), :mod:`~app.server.jobs.batch_jobs` (the Batch API's jobs),
:mod:`~app.server.jobs.acting` (requests to the app in this process as the work's owner).
"""
