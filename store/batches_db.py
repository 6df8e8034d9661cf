"""SQL of the Batch API: uploaded and produced files, batches, and one row per request line.

SQLite (``data/batches.sqlite``) by default; any SQLAlchemy URL (``DATABASE_URL``) for a server
database shared by the gateway and its worker processes, opened by :mod:`store.database`. Queries
are SQLAlchemy Core.

Durability is carried by the line rows, not by the queue: a line's outcome is written by
:meth:`BatchesDB.finish_line` *before* its job is acknowledged, and only while the line is still
``pending`` (``UPDATE … WHERE outcome = 'pending'``), so a line re-run after a worker died (or
delivered twice) is written once and the first answer wins; ``(batch_id, custom_id)`` is unique.
Finalizing writes the output and error files and the batch's final status in one transaction,
guarded by the status it expects, so two finalizers cannot both finish a batch and a finalizer
killed half-way leaves nothing behind.

Every read a client can reach is scoped to the owner (the API key's id, ``""`` for the master key
or an open server): another key's file or batch is as absent as an unknown one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection, Engine

from store.database import database_url, open_engine, write_transaction

__all__ = ["BatchRow", "BatchesDB", "Counts", "FileRow", "LineRow", "OPEN_STATUSES"]

OPEN_STATUSES = ("validating", "in_progress", "finalizing", "cancelling")
"""Statuses of a batch that still has work for a worker."""

_metadata = MetaData()
files = Table(
    "batch_files",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("filename", Text, nullable=False),
    Column("bytes", Integer, nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer),
    Column("urls", Text, nullable=False),
    Column("content", LargeBinary, nullable=False),
    Index("batch_files_owner", "owner", "created_at"),
)
batches = Table(
    "batches",
    _metadata,
    Column("id", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("input_file_id", String(64), nullable=False),
    Column("completion_window", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", Integer, nullable=False),
    Column("expires_at", Integer, nullable=False),
    Column("in_progress_at", Integer),
    Column("finalizing_at", Integer),
    Column("completed_at", Integer),
    Column("failed_at", Integer),
    Column("expired_at", Integer),
    Column("cancelling_at", Integer),
    Column("cancelled_at", Integer),
    Column("output_file_id", String(64)),
    Column("error_file_id", String(64)),
    Column("errors", Text),
    Column("metadata", Text),
    Column("dispatched", Integer, nullable=False, default=0),
    Index("batches_owner", "owner", "created_at"),
    Index("batches_status", "status"),
)
lines = Table(
    "batch_lines",
    _metadata,
    Column("batch_id", String(64), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("custom_id", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("outcome", String(16), nullable=False, default="pending"),
    Column("output", Text),
    Column("input_tokens", Integer, nullable=False, default=0),
    Column("output_tokens", Integer, nullable=False, default=0),
    PrimaryKeyConstraint("batch_id", "line_no"),
    UniqueConstraint("batch_id", "custom_id", name="batch_lines_custom_id"),
    Index("batch_lines_outcome", "batch_id", "outcome"),
)

_TIMES = ("in_progress_at", "finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at")


@dataclass(frozen=True)
class FileRow:
    """A stored file without its content."""

    id: str
    owner: str
    purpose: str
    filename: str
    bytes: int
    created_at: int
    expires_at: int | None
    urls: dict[str, int]
    """Each request URL in the file and the first line (1-based) that names it (input files only)."""


@dataclass(frozen=True)
class BatchRow:
    """A batch as stored; :mod:`app.server.dialects.batch` renders it as OpenAI's Batch object."""

    id: str
    owner: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: str
    created_at: int
    expires_at: int
    times: dict[str, int | None]
    """``in_progress_at`` … ``cancelled_at``: when each status was reached (``None``: not yet)."""
    output_file_id: str | None
    error_file_id: str | None
    errors: list[dict[str, Any]] | None
    metadata: dict[str, str] | None
    dispatched: bool
    """Whether every line's job was sent to the queue (a start job re-run after a crash sends them again)."""


@dataclass(frozen=True)
class LineRow:
    """One request line of a batch."""

    batch_id: str
    line_no: int
    custom_id: str
    request: dict[str, Any]
    """The input line: ``method``, ``url`` and ``body``."""
    outcome: str
    """``pending``, ``succeeded``, ``failed`` or ``cancelled``."""
    output: dict[str, Any] | None
    """The output line (OpenAI's shape) once finished."""


@dataclass(frozen=True)
class Counts:
    """What a batch's lines came to so far."""

    total: int
    succeeded: int
    failed: int
    pending: int
    input_tokens: int
    output_tokens: int


def _live(now: int | None) -> Any:
    """Files that have not expired before ``now`` (every file for ``None``)."""
    if now is None:
        return true()
    return files.c.expires_at.is_(None) | (files.c.expires_at > now)


def _file(row: Any) -> FileRow:
    return FileRow(
        row.id, row.owner, row.purpose, row.filename, row.bytes, row.created_at, row.expires_at, json.loads(row.urls)
    )


def _batch(row: Any) -> BatchRow:
    return BatchRow(
        id=row.id,
        owner=row.owner,
        endpoint=row.endpoint,
        input_file_id=row.input_file_id,
        completion_window=row.completion_window,
        status=row.status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        times={name: getattr(row, name) for name in _TIMES},
        output_file_id=row.output_file_id,
        error_file_id=row.error_file_id,
        errors=json.loads(row.errors) if row.errors else None,
        metadata=json.loads(row.metadata) if row.metadata else None,
        dispatched=bool(row.dispatched),
    )


class BatchesDB:
    """Reads and writes the Batch API's tables.

    Args:
        target: a SQLite file path or a SQLAlchemy database URL (created with its tables if missing).

    Example:
        >>> db = BatchesDB(tmp_path / "batches.sqlite")
        >>> db.put_file("file-1", "key_a", "batch", "in.jsonl", b'{"custom_id": "a"}', 0, {"/v1/chat/completions": 1})
        >>> db.get_file("key_a", "file-1").bytes, db.get_file("key_b", "file-1")
        (18, None)
        >>> db.close()
    """

    def __init__(self, target: Path | str):
        self.url = database_url(target)
        self.engine: Engine = open_engine(target)
        _metadata.create_all(self.engine)  # TODO(issue 16): an Alembic revision once store/migrations is in

    # ---- files --------------------------------------------------------------------------------
    def put_file(
        self,
        file_id: str,
        owner: str,
        purpose: str,
        filename: str,
        content: bytes,
        created_at: int,
        urls: dict[str, int],
        expires_at: int | None = None,
        conn: Connection | None = None,
    ) -> None:
        """Store a file (``urls``: see :attr:`FileRow.urls`)."""
        row = {
            "id": file_id,
            "owner": owner,
            "purpose": purpose,
            "filename": filename,
            "bytes": len(content),
            "created_at": created_at,
            "expires_at": expires_at,
            "urls": json.dumps(urls),
            "content": content,
        }
        if conn is not None:
            conn.execute(files.insert(), row)
            return
        with self.engine.begin() as own:
            own.execute(files.insert(), row)

    def get_file(self, owner: str, file_id: str, now: int | None = None) -> FileRow | None:
        """``owner``'s file ``file_id`` (without its content), or ``None`` (also once it expired before ``now``)."""
        columns = [c for c in files.c if c.name != "content"]
        query = select(*columns).where(files.c.id == file_id, files.c.owner == owner, _live(now))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _file(row) if row is not None else None

    def file_content(self, owner: str, file_id: str, now: int | None = None) -> bytes | None:
        """The bytes of ``owner``'s file ``file_id``, or ``None`` (also once it expired before ``now``)."""
        query = select(files.c.content).where(files.c.id == file_id, files.c.owner == owner, _live(now))
        with self.engine.connect() as conn:
            content = conn.execute(query).scalar()
        return bytes(content) if content is not None else None

    def list_files(
        self, owner: str, purpose: str | None, after: str | None, limit: int, now: int | None = None
    ) -> list[FileRow]:
        """``owner``'s files not expired before ``now``, newest first, starting after the file ``after`` (a cursor)."""
        columns = [c for c in files.c if c.name != "content"]
        query = select(*columns).where(files.c.owner == owner, _live(now))
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        return [_file(row) for row in self._page(query, files, owner, after, limit)]

    def delete_file(self, owner: str, file_id: str) -> bool:
        """Remove ``owner``'s file ``file_id``; whether there was one."""
        with self.engine.begin() as conn:
            gone = conn.execute(files.delete().where(files.c.id == file_id, files.c.owner == owner))
        return bool(gone.rowcount)

    def _page(self, query: Any, table: Table, owner: str, after: str | None, limit: int) -> Sequence[Any]:
        order = (table.c.created_at.desc(), table.c.id.desc())
        with self.engine.connect() as conn:
            if after is not None:
                cursor = conn.execute(
                    select(table.c.created_at, table.c.id).where(table.c.id == after, table.c.owner == owner)
                ).first()
                if cursor is not None:  # rows strictly older than the cursor, in the same order
                    older = (table.c.created_at < cursor.created_at) | (
                        (table.c.created_at == cursor.created_at) & (table.c.id < cursor.id)
                    )
                    query = query.where(older)
            return conn.execute(query.order_by(*order).limit(limit)).all()

    # ---- batches ------------------------------------------------------------------------------
    def create_batch(
        self,
        batch_id: str,
        owner: str,
        endpoint: str,
        input_file_id: str,
        completion_window: str,
        created_at: int,
        expires_at: int,
        metadata: dict[str, str] | None,
    ) -> BatchRow:
        """Store a new batch in ``validating``; the stored row."""
        row = {
            "id": batch_id,
            "owner": owner,
            "endpoint": endpoint,
            "input_file_id": input_file_id,
            "completion_window": completion_window,
            "status": "validating",
            "created_at": created_at,
            "expires_at": expires_at,
            "metadata": json.dumps(metadata) if metadata else None,
            "dispatched": 0,
        }
        with self.engine.begin() as conn:
            conn.execute(batches.insert(), row)
        found = self.batch(batch_id)
        assert found is not None
        return found

    def batch(self, batch_id: str, owner: str | None = None) -> BatchRow | None:
        """Batch ``batch_id`` (only if ``owner``'s, when given), or ``None``."""
        query = select(batches).where(batches.c.id == batch_id)
        if owner is not None:
            query = query.where(batches.c.owner == owner)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _batch(row) if row is not None else None

    def list_batches(self, owner: str, after: str | None, limit: int) -> list[BatchRow]:
        """``owner``'s batches, newest first, starting after the batch ``after`` (a cursor)."""
        query = select(batches).where(batches.c.owner == owner)
        return [_batch(row) for row in self._page(query, batches, owner, after, limit)]

    def open_batches(self) -> list[BatchRow]:
        """Every batch that still has work (:data:`OPEN_STATUSES`), oldest first."""
        query = select(batches).where(batches.c.status.in_(OPEN_STATUSES)).order_by(batches.c.created_at)
        with self.engine.connect() as conn:
            return [_batch(row) for row in conn.execute(query)]

    def start(self, batch_id: str, requests: Iterable[tuple[int, str, dict[str, Any]]], now: int) -> bool:
        """Insert the batch's lines (``(line_no, custom_id, request)``) and move it from ``validating`` to
        ``in_progress``, in one transaction; ``False`` (nothing written) when it was not ``validating``."""
        with write_transaction(self.engine) as conn:
            moved = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status == "validating")
                .values(status="in_progress", in_progress_at=now)
            )
            if not moved.rowcount:
                return False
            rows = [
                {"batch_id": batch_id, "line_no": no, "custom_id": custom_id, "request": json.dumps(request)}
                for no, custom_id, request in requests
            ]
            for start in range(0, len(rows), 1000):
                conn.execute(lines.insert(), rows[start : start + 1000])
        return True

    def fail(self, batch_id: str, errors: list[dict[str, Any]], now: int) -> bool:
        """Mark a ``validating`` batch ``failed`` with ``errors`` (OpenAI's ``BatchError`` dicts)."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status == "validating")
                .values(status="failed", failed_at=now, errors=json.dumps(errors))
            )
        return bool(moved.rowcount)

    def mark_dispatched(self, batch_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(batches).where(batches.c.id == batch_id).values(dispatched=1))

    def cancel(self, owner: str, batch_id: str, now: int) -> BatchRow | None:
        """Move ``owner``'s batch to ``cancelling`` if it is still ``validating`` or ``in_progress``; the
        batch as it is then (unchanged when it was past that), or ``None`` when ``owner`` has no such batch."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(
                    batches.c.id == batch_id,
                    batches.c.owner == owner,
                    batches.c.status.in_(("validating", "in_progress")),
                )
                .values(status="cancelling", cancelling_at=now)
            )
        return self.batch(batch_id, owner)

    def begin_finalizing(self, batch_id: str, now: int) -> None:
        """Show ``finalizing`` on an ``in_progress`` batch (a cancelling one keeps its status)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status == "in_progress")
                .values(status="finalizing", finalizing_at=now)
            )

    def finalize(
        self,
        batch_id: str,
        status: str,
        outputs: dict[str, tuple[str, bytes] | None],
        now: int,
        expires_at: int | None,
    ) -> bool:
        """Finish a batch in one transaction: lines still pending become ``cancelled``, the output and
        error files (``outputs``: ``output_file_id`` / ``error_file_id`` → ``(file id, content)`` or
        ``None``) are stored under the batch's owner, and the batch gets ``status`` and its time.
        ``False`` (nothing written) when another finalizer got there first."""
        with write_transaction(self.engine) as conn:
            owner = str(conn.execute(select(batches.c.owner).where(batches.c.id == batch_id)).scalar() or "")
            values: dict[str, Any] = {"status": status, f"{status}_at": now}
            for column, produced in outputs.items():
                values[column] = produced[0] if produced is not None else None
            moved = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status.in_(("in_progress", "finalizing", "cancelling")))
                .values(**values)
            )
            if not moved.rowcount:
                return False
            conn.execute(
                update(lines)
                .where(lines.c.batch_id == batch_id, lines.c.outcome == "pending")
                .values(outcome="cancelled")
            )
            for produced in outputs.values():
                if produced is not None:
                    file_id, content = produced
                    self.put_file(
                        file_id, owner, "batch_output", f"{file_id}.jsonl", content, now, {}, expires_at, conn
                    )
        return True

    # ---- lines --------------------------------------------------------------------------------
    def line(self, batch_id: str, line_no: int) -> LineRow | None:
        query = select(lines).where(lines.c.batch_id == batch_id, lines.c.line_no == line_no)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        output = json.loads(row.output) if row.output else None
        return LineRow(row.batch_id, row.line_no, row.custom_id, json.loads(row.request), row.outcome, output)

    def pending_lines(self, batch_id: str) -> list[int]:
        """The line numbers still ``pending``, in file order."""
        query = (
            select(lines.c.line_no)
            .where(lines.c.batch_id == batch_id, lines.c.outcome == "pending")
            .order_by(lines.c.line_no)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def finish_line(
        self, batch_id: str, line_no: int, outcome: str, output: dict[str, Any], tokens: tuple[int, int] = (0, 0)
    ) -> bool:
        """Record a pending line's ``outcome`` (``succeeded`` / ``failed``) and output line; ``False`` when it
        was no longer pending (finished by another delivery, or cancelled): the first answer stays."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(lines)
                .where(lines.c.batch_id == batch_id, lines.c.line_no == line_no, lines.c.outcome == "pending")
                .values(outcome=outcome, output=json.dumps(output), input_tokens=tokens[0], output_tokens=tokens[1])
            )
        return bool(moved.rowcount)

    def counts(self, batch_id: str) -> Counts:
        """How many lines there are and how they came out so far, and the tokens of the answered ones."""
        query = (
            select(
                lines.c.outcome,
                func.count(),
                func.coalesce(func.sum(lines.c.input_tokens), 0),
                func.coalesce(func.sum(lines.c.output_tokens), 0),
            )
            .where(lines.c.batch_id == batch_id)
            .group_by(lines.c.outcome)
        )
        with self.engine.connect() as conn:
            found = {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in conn.execute(query)}
        total = sum(count for count, _, _ in found.values())
        return Counts(
            total=total,
            succeeded=found.get("succeeded", (0, 0, 0))[0],
            failed=found.get("failed", (0, 0, 0))[0],
            pending=found.get("pending", (0, 0, 0))[0],
            input_tokens=sum(tokens for _, tokens, _ in found.values()),
            output_tokens=sum(tokens for _, _, tokens in found.values()),
        )

    def outputs(self, batch_id: str) -> list[tuple[str, dict[str, Any]]]:
        """Every finished line's ``(outcome, output line)``, in file order."""
        query = (
            select(lines.c.outcome, lines.c.output)
            .where(lines.c.batch_id == batch_id, lines.c.outcome.in_(("succeeded", "failed")))
            .order_by(lines.c.line_no)
        )
        with self.engine.connect() as conn:
            return [(row.outcome, json.loads(row.output)) for row in conn.execute(query)]

    def close(self) -> None:
        self.engine.dispose()
