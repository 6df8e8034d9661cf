"""SQLite tables behind the runtime model registry.

``models``: one row per runtime-registered model name (its full spec as JSON).
``offline``: ``(model, deployment)`` pairs taken offline (``*`` = the whole model).
``changes``: every re-registration that changed a spec, with its field-level diff.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from store.sqlite import connect

__all__ = ["RegistryDB"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, fingerprint TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS offline (
    model TEXT NOT NULL, deployment TEXT NOT NULL, at REAL NOT NULL,
    PRIMARY KEY (model, deployment));
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, model TEXT NOT NULL, at REAL NOT NULL,
    old_fingerprint TEXT, new_fingerprint TEXT NOT NULL, diff TEXT NOT NULL, breaking TEXT NOT NULL);
"""


class RegistryDB:
    """Thin, typed access to the registry tables. Not thread-bound; one connection."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.conn: sqlite3.Connection = connect(self.path)
        self.conn.executescript(_SCHEMA)
        self._own_writes = 0

    def generation(self) -> int:
        """Changes whenever a write commits, from this connection or any other (cache key)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0]) * 1_000_000 + self._own_writes

    def note_write(self) -> None:
        """Called after this connection commits (``data_version`` only sees other connections)."""
        self._own_writes += 1

    @property
    def own_writes(self) -> int:
        return self._own_writes

    def stored_specs(self) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute("SELECT name, spec FROM models ORDER BY name").fetchall()
        return {row["name"]: json.loads(row["spec"]) for row in rows}

    def stored_spec(self, name: str) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT spec FROM models WHERE name = ?", (name,)).fetchone()
        return json.loads(row["spec"]) if row else None

    def save_spec(self, name: str, spec: dict[str, Any], fingerprint: str, owner: str) -> None:
        self.conn.execute(
            "INSERT INTO models (name, spec, fingerprint, owner, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET spec=excluded.spec, fingerprint=excluded.fingerprint, "
            "owner=excluded.owner, updated_at=excluded.updated_at",
            (name, json.dumps(spec, sort_keys=True), fingerprint, owner, time.time()),
        )

    def record_change(
        self, name: str, old_fp: str | None, new_fp: str, diff: list[dict[str, Any]], breaking: list[str]
    ) -> None:
        self.conn.execute(
            "INSERT INTO changes (model, at, old_fingerprint, new_fingerprint, diff, breaking) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, time.time(), old_fp, new_fp, json.dumps(diff), json.dumps(breaking)),
        )

    def changes(self, name: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT at, old_fingerprint, new_fingerprint, diff, breaking FROM changes WHERE model = ? ORDER BY id",
            (name,),
        ).fetchall()
        return [
            {
                "at": r["at"],
                "old_fingerprint": r["old_fingerprint"],
                "new_fingerprint": r["new_fingerprint"],
                "diff": json.loads(r["diff"]),
                "breaking": json.loads(r["breaking"]),
            }
            for r in rows
        ]

    def offline_pairs(self) -> set[tuple[str, str]]:
        return {(r["model"], r["deployment"]) for r in self.conn.execute("SELECT model, deployment FROM offline")}

    def set_offline(self, model: str, deployment: str) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO offline (model, deployment, at) VALUES (?, ?, ?)", (model, deployment, time.time())
        )

    def clear_offline(self, model: str, deployments: list[str]) -> None:
        self.conn.execute("DELETE FROM offline WHERE model = ? AND deployment = '*'", (model,))
        self.conn.executemany(
            "DELETE FROM offline WHERE model = ? AND deployment = ?", [(model, d) for d in deployments]
        )
