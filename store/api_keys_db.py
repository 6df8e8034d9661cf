"""SQL of the consumer API keys (``data/keys.sqlite``): one row per key, the secret only as a hash.

A key's secret is shown once, when it is created; the table keeps its SHA-256 and its first
characters (``prefix``, to tell keys apart in a listing). Spend is added as increments, so two
writers never lose each other's updates.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from store.sqlite import connect, write_transaction

__all__ = ["ApiKeysDB", "StoredKey", "count_active_keys"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, secret_sha256 TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
    allowed_models TEXT NOT NULL DEFAULT '[]', rpm INTEGER, tpm INTEGER, budget_usd REAL,
    spent_usd REAL NOT NULL DEFAULT 0, created REAL NOT NULL, revoked_at REAL, service TEXT);
"""

_ADDED_COLUMNS = {"service": "TEXT"}
"""Columns added after the first release: a key file written by an older version gets them on open."""


@dataclass(frozen=True)
class StoredKey:
    """One row of ``api_keys`` (no secret: only its hash and display prefix).

    Example:
        >>> StoredKey("key_ab12cd34", "team-a", "9f86…", "my-AbCdE", ()).active
        True
    """

    id: str
    name: str
    secret_sha256: str
    prefix: str
    allowed_models: tuple[str, ...]
    """Models the key may call; empty = all."""
    rpm: int | None = None
    """Requests per rolling minute; ``None`` = unlimited."""
    tpm: int | None = None
    """Tokens (input + output) per rolling minute; ``None`` = unlimited."""
    budget_usd: float | None = None
    """Total spend allowed; ``None`` = no budget."""
    spent_usd: float = 0.0
    created: float = 0.0
    revoked_at: float | None = None
    service: str | None = None
    """A subscription key's service (``POST /api/services/{service}`` only); ``None`` = a general key."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StoredKey:
        values = dict(row)
        values["allowed_models"] = tuple(json.loads(values["allowed_models"]))
        return cls(**values)


class ApiKeysDB:
    """Reads and writes the ``api_keys`` table.

    Args:
        path: the SQLite file (created with its table if missing).

    Example:
        >>> db = ApiKeysDB(tmp_path / "keys.sqlite")
        >>> db.insert(StoredKey("key_1", "team-a", "9f86…", "my-AbCdE", (), created=time.time()))
        >>> [key.name for key in db.all()]
        ['team-a']
        >>> db.close()
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = connect(path)
        self.conn.executescript(_SCHEMA)
        present = {row["name"] for row in self.conn.execute("PRAGMA table_info(api_keys)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in present:
                self.conn.execute(f"ALTER TABLE api_keys ADD COLUMN {column} {kind}")
        self._lock = threading.RLock()
        """One connection, several threads (requests, the spend writer): one statement or transaction at a time."""

    def insert(self, key: StoredKey) -> None:
        """Add a new key (its id and hash must be new)."""
        with self._lock:
            self.conn.execute(
                """INSERT INTO api_keys (id, name, secret_sha256, prefix, allowed_models, rpm, tpm, budget_usd,
                                         spent_usd, created, revoked_at, service)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    key.id,
                    key.name,
                    key.secret_sha256,
                    key.prefix,
                    json.dumps(list(key.allowed_models)),
                    key.rpm,
                    key.tpm,
                    key.budget_usd,
                    key.spent_usd,
                    key.created,
                    key.revoked_at,
                    key.service,
                ),
            )

    def all(self) -> list[StoredKey]:
        """Every key, revoked ones included, oldest first."""
        with self._lock:
            return [StoredKey.from_row(row) for row in self.conn.execute("SELECT * FROM api_keys ORDER BY created")]

    def revoke(self, key_id: str, at: float | None = None) -> float | None:
        """Mark ``key_id`` revoked; the revocation time (the first one if already revoked), ``None`` if unknown."""
        with self._lock:
            with write_transaction(self.conn):
                self.conn.execute(
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (time.time() if at is None else at, key_id),
                )
                row = self.conn.execute("SELECT revoked_at FROM api_keys WHERE id = ?", (key_id,)).fetchone()
            return None if row is None else row["revoked_at"]

    def add_spend(self, spend: Mapping[str, float]) -> None:
        """Add each key's USD increment to its ``spent_usd``, in one transaction."""
        with self._lock:
            if not spend:
                return
            with write_transaction(self.conn):
                self.conn.executemany(
                    "UPDATE api_keys SET spent_usd = spent_usd + ? WHERE id = ?",
                    [(usd, key_id) for key_id, usd in spend.items()],
                )

    def data_version(self) -> int:
        """SQLite's ``data_version``: it changes when *another* connection (process) commits."""
        with self._lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def count_active_keys(path: Path) -> int:
    """How many unrevoked keys the file at ``path`` holds (0 when it does not exist; never creates it)."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0])
    except sqlite3.OperationalError:  # a file without the table holds no keys
        return 0
    finally:
        conn.close()
