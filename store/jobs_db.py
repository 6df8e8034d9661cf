"""SQL of long-running background jobs (knowledge ingestion): their progress, and the files they take.

One row per job — kind, owner, status (``queued`` → ``running`` → ``completed`` / ``failed``), files
and chunks done of their totals, the error or the summary — so any process (the gateway answering
``GET /api/jobs/{id}``, the Streamlit page polling it) sees the progress the process running the job
writes. The uploaded files travel in the database too (``job_files``), so the job can run on another
machine than the one that took the upload. SQLite (``data/jobs.sqlite``) or ``DATABASE_URL``, opened
by :mod:`store.database`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, LargeBinary, MetaData, PrimaryKeyConstraint, String, Table, Text, select, update
from sqlalchemy.engine import Engine

from store.database import open_engine

__all__ = ["JobRow", "JobsDB"]

_metadata = MetaData()
jobs = Table(
    "background_jobs",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("target", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("stage", String(16), nullable=False, default=""),
    Column("files_done", Integer, nullable=False, default=0),
    Column("files_total", Integer, nullable=False, default=0),
    Column("chunks_done", Integer, nullable=False, default=0),
    Column("chunks_total", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("result", Text),
    Column("created_at", Integer, nullable=False),
    Column("started_at", Integer),
    Column("finished_at", Integer),
)
job_files = Table(
    "background_job_files",
    _metadata,
    Column("job_id", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    PrimaryKeyConstraint("job_id", "name"),
)

_PROGRESS = ("stage", "files_done", "files_total", "chunks_done", "chunks_total")


@dataclass(frozen=True)
class JobRow:
    """A job and how far it got."""

    id: str
    owner: str
    kind: str
    target: str
    """What it works on (for an ingestion: the collection)."""
    status: str
    stage: str
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    error: str | None
    result: dict[str, Any] | None
    created_at: int
    started_at: int | None
    finished_at: int | None

    def view(self) -> dict[str, Any]:
        """What ``GET /api/jobs/{id}`` answers."""
        return {
            "id": self.id,
            "object": "job",
            "kind": self.kind,
            "target": self.target,
            "status": self.status,
            "progress": {
                "stage": self.stage,
                "files": {"done": self.files_done, "total": self.files_total},
                "chunks": {"done": self.chunks_done, "total": self.chunks_total},
            },
            "error": self.error,
            "result": self.result,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def _job(row: Any) -> JobRow:
    values = dict(row._mapping)
    values["result"] = json.loads(values["result"]) if values["result"] else None
    return JobRow(**values)


class JobsDB:
    """Reads and writes background jobs.

    Example:
        >>> db = JobsDB(tmp_path / "jobs.sqlite")
        >>> db.create("job_1", "admin", "knowledge.ingest", "notes", [("a.md", b"# A")], 100)
        >>> db.files("job_1"), db.get("job_1", "someone-else")
        ([('a.md', b'# A')], None)
        >>> db.close()
    """

    def __init__(self, target: Path | str):
        self.engine: Engine = open_engine(target)
        _metadata.create_all(self.engine)

    def create(self, job_id: str, owner: str, kind: str, target: str, files: list[tuple[str, bytes]], now: int) -> None:
        """Store a ``queued`` job and the files it takes, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(
                jobs.insert(),
                {"id": job_id, "owner": owner, "kind": kind, "target": target, "status": "queued", "created_at": now},
            )
            if files:
                rows = [{"job_id": job_id, "name": name, "content": content} for name, content in files]
                conn.execute(job_files.insert(), rows)

    def get(self, job_id: str, owner: str | None = None) -> JobRow | None:
        """Job ``job_id`` (only if ``owner``'s, when given)."""
        query = select(jobs).where(jobs.c.id == job_id)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _job(row) if row is not None else None

    def files(self, job_id: str) -> list[tuple[str, bytes]]:
        query = select(job_files.c.name, job_files.c.content).where(job_files.c.job_id == job_id)
        with self.engine.connect() as conn:
            return [(row.name, bytes(row.content)) for row in conn.execute(query.order_by(job_files.c.name))]

    def begin(self, job_id: str, now: int) -> bool:
        """``queued`` or ``running`` (a re-run after a worker died) → ``running``; ``False`` once it finished."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(("queued", "running")))
                .values(status="running", started_at=now, error=None)
            )
        return bool(moved.rowcount)

    def progress(self, job_id: str, **values: int | str) -> None:
        """Record how far a running job got (``stage``, ``files_done`` … ``chunks_total``)."""
        unknown = set(values) - set(_PROGRESS)
        if unknown:
            raise ValueError(f"not progress fields: {', '.join(sorted(unknown))}")
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running").values(**values))

    def finish(self, job_id: str, now: int, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        """``completed`` with ``result``, or ``failed`` with ``error``; the job's files are dropped."""
        status = "failed" if error is not None else "completed"
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(status=status, finished_at=now, error=error, result=json.dumps(result) if result else None)
            )
            conn.execute(job_files.delete().where(job_files.c.job_id == job_id))

    def unfinished(self) -> list[JobRow]:
        """Jobs still ``queued`` or ``running``, oldest first (re-sent at start without Redis)."""
        query = select(jobs).where(jobs.c.status.in_(("queued", "running"))).order_by(jobs.c.created_at)
        with self.engine.connect() as conn:
            return [_job(row) for row in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()
