"""SQL of stored Responses-API answers (``data/responses.sqlite``): one row per response, per API key.

``/v1/responses`` keeps each answer (unless the request says ``store: false``) so a later request can
continue it with ``previous_response_id``. A row holds the Response object as answered and the
conversation items that led to it (the earlier turns and this request's input), so a continuation
needs one read. Every read and delete is scoped to the owner (the API key's id, ``""`` for the
master key or an open server): another key's response is as absent as an unknown one.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.sqlite import connect

__all__ = ["ResponsesDB", "StoredResponse"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, response TEXT NOT NULL, history TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS responses_owner ON responses (owner, id);
"""


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
        path: the SQLite file (created with its table if missing).

    Example:
        >>> db = ResponsesDB(tmp_path / "responses.sqlite")
        >>> db.put("key_a", {"id": "resp_1", "object": "response", "output": []}, [])
        >>> db.get("key_a", "resp_1").response["object"], db.get("key_b", "resp_1")
        ('response', None)
        >>> db.delete("key_b", "resp_1"), db.delete("key_a", "resp_1")
        (False, True)
        >>> db.close()
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = connect(path)
        self.conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        """One connection shared by request threads: one statement at a time."""

    def put(self, owner: str, response: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """Store ``response`` (its ``id`` must be new) for ``owner``, with the ``history`` that led to it."""
        row = (response["id"], owner, json.dumps(response), json.dumps(history), time.time())
        with self._lock:
            self.conn.execute(
                "INSERT INTO responses (id, owner, response, history, created) VALUES (?, ?, ?, ?, ?)", row
            )

    def get(self, owner: str, response_id: str) -> StoredResponse | None:
        """``owner``'s response ``response_id``, or ``None`` (unknown, or another owner's)."""
        with self._lock:
            row = self.conn.execute(
                "SELECT response, history FROM responses WHERE id = ? AND owner = ?", (response_id, owner)
            ).fetchone()
        if row is None:
            return None
        return StoredResponse(response_id, json.loads(row["response"]), json.loads(row["history"]))

    def delete(self, owner: str, response_id: str) -> bool:
        """Remove ``owner``'s response ``response_id``; whether there was one."""
        with self._lock:
            cursor = self.conn.execute("DELETE FROM responses WHERE id = ? AND owner = ?", (response_id, owner))
        return cursor.rowcount > 0

    def close(self) -> None:
        with self._lock:
            self.conn.close()
