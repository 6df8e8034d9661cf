"""Knowledge ingestion for the Streamlit app as a background job: submit an upload, then poll its progress.

The page must not block while a large upload is read, split and embedded, so it hands the files to the
gateway's job machinery — the same ``knowledge.ingest`` job, :class:`~app.server.jobs.runner.JobRunner`
and :class:`~app.server.jobs.queue_local.LocalQueue` the gateway runs without Redis — on an event loop of
its own in one daemon thread per Streamlit server process, and reads the job's progress from
:class:`~store.jobs_db.JobsDB` on every poll. It runs here rather than on Redis workers even when
``REDIS_URL`` is set: the page's Chroma is this process's (a worker on its own persistent Chroma folder
would write beside it). A job the process did not finish (the app was stopped) runs again at the next start.

Example:
    >>> jobs = IngestJobs(JobsDB(tmp_path / "jobs.sqlite"), BatchesDB(tmp_path / "batches.sqlite"))  # doctest: +SKIP
    >>> job_id = jobs.submit("notes", [("notes.md", b"# Notes")])  # doctest: +SKIP
    >>> jobs.get(job_id).status  # doctest: +SKIP
    'running'
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time

from app.server.jobs.knowledge_jobs import KIND
from app.server.jobs.queue import Job
from app.server.jobs.queue_local import LocalQueue
from app.server.jobs.runner import JobRunner
from app.server.jobs.settings import JobSettings
from knowledge.store import validate_collection_name
from knowledge.uploads import check_upload_names
from store.batches_db import BatchesDB
from store.jobs_db import JobRow, JobsDB

__all__ = ["OWNER", "IngestJobs"]

OWNER = "ui"
"""The owner of the app's ingestion jobs (the gateway's API jobs are the admin's)."""


class IngestJobs:
    """Ingestion jobs run in this process, one at a time, on their own event loop thread."""

    def __init__(self, jobs_db: JobsDB, batches: BatchesDB):
        self.jobs_db = jobs_db
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="modelyard-ui-jobs", daemon=True).start()
        self.runner = JobRunner(LocalQueue(concurrency=1), batches, jobs_db, JobSettings())
        asyncio.run_coroutine_threadsafe(self.runner.start(None), self.loop).result()

    def submit(self, collection: str, files: list[tuple[str, bytes]]) -> str:
        """Queue the ingestion of ``files`` into ``collection``; the job's id.

        Raises:
            KnowledgeError: an invalid collection name or a file type no loader reads (nothing is queued).
        """
        validate_collection_name(collection)
        names = check_upload_names([name for name, _ in files])
        job_id = f"job_{secrets.token_hex(12)}"
        contents = [(name, data) for name, (_, data) in zip(names, files, strict=True)]
        self.jobs_db.create(job_id, OWNER, KIND, collection, contents, int(time.time()))
        asyncio.run_coroutine_threadsafe(self.runner.send(Job(KIND, (job_id,))), self.loop).result()
        return job_id

    def get(self, job_id: str) -> JobRow | None:
        return self.jobs_db.get(job_id, OWNER)
