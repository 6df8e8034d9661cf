"""SQL of stored Responses-API answers (``data/responses.sqlite``, or ``DATABASE_URL``): one row per
response, per API key.

``/v1/responses`` keeps each answer (unless the request says ``store: false``) so a later request can
continue it with ``previous_response_id``. A row holds the Response object as answered and the
conversation items that led to it (the earlier turns and this request's input), so a continuation
needs one read. Every read and delete is scoped to the owner (the API key's id, ``""`` for the
master key or an open server): another key's response is as absent as an unknown one.

Rows older than ``retention_days`` are gone: a read never returns one, and a write deletes them
(at most every ``prune_every_seconds``). Writes run in a worker thread (``asyncio.to_thread``), so the
pruning stays off the gateway's event loop, as the request log's does in its own thread.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Index, MetaData, Table, Text, delete, select

from store.database import REAL_NUMBER
from store.store_engine import StoreEngine

__all__ = ["ResponsesDB", "StoredResponse", "responses"]

responses = Table(
    "responses",
    MetaData(),
    Column("id", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("response", Text, nullable=False),
    Column("history", Text, nullable=False),
    Column("created", REAL_NUMBER, nullable=False),
    Index("responses_owner", "owner", "id"),
    Index("responses_created", "created"),
)


@dataclass(frozen=True)
class StoredResponse:
    """One stored answer.

    Example:
        >>> stored = StoredResponse("resp_1", {"id": "resp_1", "output": []}, [{"type": "message"}])
        >>> stored.conversation()
        [{'type': 'message'}]
    """

    id: str
    response: dict[str, Any]
    """The Response object as it was answered."""
    history: list[dict[str, Any]]
    """The input items that led to it: earlier turns (inputs and outputs), then this request's input."""

    def conversation(self) -> list[dict[str, Any]]:
        """The items a continuation starts from: the history, then this response's output."""
        return [*self.history, *self.response.get("output", [])]


class ResponsesDB:
    """Reads and writes the ``responses`` table.

    Args:
        target: a SQLite file path or a SQLAlchemy URL (created and migrated if needed).
        retention_days: responses older than this are deleted; ``None`` keeps everything.
        prune_every_seconds: how often a write deletes the old rows.
        clock: epoch seconds now (``time.time``).

    Example:
        >>> db = ResponsesDB(tmp_path / "responses.sqlite")
        >>> db.put("key_a", {"id": "resp_1", "object": "response", "output": []}, [])
        >>> db.get("key_a", "resp_1").response["object"], db.get("key_b", "resp_1")
        ('response', None)
        >>> db.delete("key_b", "resp_1"), db.delete("key_a", "resp_1")
        (False, True)
        >>> db.close()
    """

    def __init__(
        self,
        target: Path | str,
        retention_days: float | None = None,
        prune_every_seconds: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ):
        self.tables = StoreEngine(target, "responses")
        self.retention_days, self.prune_every_seconds, self.clock = retention_days, prune_every_seconds, clock
        self.pruned = 0
        """Rows deleted by the retention so far."""
        self._next_prune = 0.0

    def put(self, owner: str, response: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """Store ``response`` (its ``id`` must be new) for ``owner``, with the ``history`` that led to it;
        deletes the rows past the retention when that is due."""
        now = self.clock()
        row = {
            "id": response["id"],
            "owner": owner,
            "response": json.dumps(response),
            "history": json.dumps(history),
            "created": now,
        }
        with self.tables.write() as conn:
            conn.execute(responses.insert().values(row))
            if self.retention_days is not None and now >= self._next_prune:
                self._next_prune = now + self.prune_every_seconds
                deleted = conn.execute(delete(responses).where(responses.c.created < self._cutoff(now)))
                self.pruned += deleted.rowcount or 0

    def get(self, owner: str, response_id: str) -> StoredResponse | None:
        """``owner``'s response ``response_id``, or ``None`` (unknown, another owner's, or past the retention)."""
        r = responses.c
        query = select(r.response, r.history).where(
            (r.id == response_id) & (r.owner == owner) & (r.created >= self._cutoff(self.clock()))
        )
        with self.tables.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return StoredResponse(response_id, json.loads(row.response), json.loads(row.history))

    def _cutoff(self, now: float) -> float:
        """Rows created before this (epoch seconds) are past the retention."""
        return float("-inf") if self.retention_days is None else now - self.retention_days * 86_400

    def delete(self, owner: str, response_id: str) -> bool:
        """Remove ``owner``'s response ``response_id``; whether there was one."""
        with self.tables.write() as conn:
            cursor = conn.execute(
                delete(responses).where((responses.c.id == response_id) & (responses.c.owner == owner))
            )
        return bool(cursor.rowcount)

    def close(self) -> None:
        self.tables.close()
