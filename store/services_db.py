"""SQL of the published prompt services (``data/services.sqlite``): services, their versions, subscriptions.

A service's content (prompt template, model, parameters, description) is stored per version and
never changed: a revision adds version ``n + 1``. Its settings (approval mode, the limits every
subscription key gets) are one row that may change. A subscription names the consumer key issued
for it (``key_id`` in ``data/keys.sqlite``: the secret lives only there, as a hash) and its status.
Writes run in ``BEGIN IMMEDIATE`` transactions, so two processes never give out one version number
or decide one subscription twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from store.sqlite import connect, write_transaction

__all__ = ["Approval", "ServicesDB", "Status", "StoredService", "StoredSubscription", "StoredVersion"]

Approval = Literal["manual", "auto"]
Status = Literal["pending", "approved", "rejected", "revoked"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS services (
    name TEXT PRIMARY KEY, owner TEXT NOT NULL, approval TEXT NOT NULL, limits TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS service_versions (
    service TEXT NOT NULL, version INTEGER NOT NULL, spec TEXT NOT NULL, fingerprint TEXT NOT NULL,
    created REAL NOT NULL, created_by TEXT NOT NULL, PRIMARY KEY (service, version));
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, service TEXT NOT NULL, subscriber TEXT NOT NULL, key_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, created REAL NOT NULL, decided_at REAL, decided_by TEXT, reason TEXT);
CREATE INDEX IF NOT EXISTS subscriptions_service ON subscriptions (service);
"""


@dataclass(frozen=True)
class StoredService:
    """One row of ``services``: who owns it and how subscriptions are decided."""

    name: str
    owner: str
    approval: Approval
    limits: dict[str, Any] = field(default_factory=dict)
    """``rpm``, ``tpm``, ``budget_usd`` a subscription key gets at most (absent = unlimited)."""
    created: float = 0.0


@dataclass(frozen=True)
class StoredVersion:
    """One immutable version of a service's content (a prompt spec as JSON)."""

    service: str
    version: int
    spec: dict[str, Any]
    fingerprint: str
    created: float
    created_by: str


@dataclass(frozen=True)
class StoredSubscription:
    """One subscriber's subscription to one service, and the key issued for it.

    Example:
        >>> StoredSubscription("sub_1", "summarise", "team-b", "key_1", "pending", 0.0).status
        'pending'
    """

    id: str
    service: str
    subscriber: str
    key_id: str
    status: Status
    created: float
    decided_at: float | None = None
    decided_by: str | None = None
    reason: str | None = None


class ServicesDB:
    """Reads and writes the services, their versions and the subscriptions.

    Args:
        path: the SQLite file (created with its tables if missing).

    Example:
        >>> db = ServicesDB(tmp_path / "services.sqlite")
        >>> db.create(StoredService("say", "team-a", "auto"), {"messages": []}, "f1", "team-a").version
        1
        >>> db.add_version("say", {"messages": [1]}, "f2", "team-a")[0].version
        2
        >>> db.close()
    """

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn: sqlite3.Connection = connect(path)
        self.conn.executescript(_SCHEMA)
        self._lock = threading.RLock()

    # ---- services and versions -------------------------------------------------------------
    def create(self, service: StoredService, spec: dict[str, Any], fingerprint: str, by: str) -> StoredVersion:
        """Add a service with its version 1.

        Raises:
            KeyError: a service of that name exists.
        """
        now = time.time()
        with self._lock, write_transaction(self.conn):
            if self.conn.execute("SELECT 1 FROM services WHERE name = ?", (service.name,)).fetchone():
                raise KeyError(service.name)
            self.conn.execute(
                "INSERT INTO services (name, owner, approval, limits, created) VALUES (?, ?, ?, ?, ?)",
                (service.name, service.owner, service.approval, json.dumps(service.limits), now),
            )
            return self._insert_version(service.name, 1, spec, fingerprint, by, now)

    def add_version(self, name: str, spec: dict[str, Any], fingerprint: str, by: str) -> tuple[StoredVersion, bool]:
        """A new version when ``fingerprint`` differs from the latest one; ``(version, created)``."""
        with self._lock, write_transaction(self.conn):
            latest = self._latest(name)
            if latest is None:
                raise KeyError(name)
            if latest.fingerprint == fingerprint:
                return latest, False
            return self._insert_version(name, latest.version + 1, spec, fingerprint, by, time.time()), True

    def update_settings(self, name: str, approval: Approval, limits: dict[str, Any]) -> None:
        """Change a service's approval mode and subscription limits (not versioned)."""
        with self._lock:
            self.conn.execute(
                "UPDATE services SET approval = ?, limits = ? WHERE name = ?", (approval, json.dumps(limits), name)
            )

    def service(self, name: str) -> StoredService | None:
        with self._lock:
            row = self.conn.execute("SELECT * FROM services WHERE name = ?", (name,)).fetchone()
        return None if row is None else _service(row)

    def services(self) -> list[StoredService]:
        """Every service, by name."""
        with self._lock:
            return [_service(row) for row in self.conn.execute("SELECT * FROM services ORDER BY name")]

    def version(self, name: str, version: int | None = None) -> StoredVersion | None:
        """Version ``version`` of ``name`` (``None`` = the latest)."""
        with self._lock:
            if version is None:
                return self._latest(name)
            row = self.conn.execute(
                "SELECT * FROM service_versions WHERE service = ? AND version = ?", (name, version)
            ).fetchone()
        return None if row is None else _version(row)

    def versions(self, name: str) -> list[StoredVersion]:
        """Every version of ``name``, oldest first."""
        with self._lock:
            rows = self.conn.execute("SELECT * FROM service_versions WHERE service = ? ORDER BY version", (name,))
            return [_version(row) for row in rows]

    def _latest(self, name: str) -> StoredVersion | None:
        row = self.conn.execute(
            "SELECT * FROM service_versions WHERE service = ? ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
        return None if row is None else _version(row)

    def _insert_version(
        self, name: str, number: int, spec: dict[str, Any], fingerprint: str, by: str, now: float
    ) -> StoredVersion:
        self.conn.execute(
            "INSERT INTO service_versions (service, version, spec, fingerprint, created, created_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (name, number, json.dumps(spec, sort_keys=True), fingerprint, now, by),
        )
        return StoredVersion(name, number, spec, fingerprint, now, by)

    # ---- subscriptions ---------------------------------------------------------------------
    def subscribe(self, subscription: StoredSubscription) -> None:
        """Add a subscription (its id and key id must be new)."""
        s = subscription
        with self._lock:
            self.conn.execute(
                "INSERT INTO subscriptions (id, service, subscriber, key_id, status, created, decided_at, decided_by, "
                "reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (s.id, s.service, s.subscriber, s.key_id, s.status, s.created, s.decided_at, s.decided_by, s.reason),
            )

    def subscription(self, subscription_id: str) -> StoredSubscription | None:
        with self._lock:
            row = self.conn.execute("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
        return None if row is None else _subscription(row)

    def subscription_of_key(self, key_id: str) -> StoredSubscription | None:
        """The subscription a key was issued for (``None`` for a general key)."""
        with self._lock:
            row = self.conn.execute("SELECT * FROM subscriptions WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else _subscription(row)

    def subscriptions(self, service: str | None = None) -> list[StoredSubscription]:
        """Every subscription (of ``service`` when given), oldest first."""
        query = "SELECT * FROM subscriptions"
        params: tuple[str, ...] = ()
        if service is not None:
            query, params = query + " WHERE service = ?", (service,)
        with self._lock:
            return [_subscription(row) for row in self.conn.execute(query + " ORDER BY created", params)]

    def decide(
        self, subscription_id: str, status: Status, by: str, reason: str | None, allowed_from: tuple[Status, ...]
    ) -> StoredSubscription | None:
        """Move a subscription to ``status`` if it is in one of ``allowed_from``; the row after the
        change, or ``None`` when it was in another status (it is left unchanged)."""
        with self._lock, write_transaction(self.conn):
            row = self.conn.execute("SELECT status FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
            if row is None or row["status"] not in allowed_from:
                return None
            self.conn.execute(
                "UPDATE subscriptions SET status = ?, decided_at = ?, decided_by = ?, reason = ? WHERE id = ?",
                (status, time.time(), by, reason, subscription_id),
            )
            found = self.conn.execute("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
        return _subscription(found)

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _service(row: sqlite3.Row) -> StoredService:
    return StoredService(row["name"], row["owner"], row["approval"], json.loads(row["limits"]), row["created"])


def _version(row: sqlite3.Row) -> StoredVersion:
    return StoredVersion(
        row["service"], row["version"], json.loads(row["spec"]), row["fingerprint"], row["created"], row["created_by"]
    )


def _subscription(row: sqlite3.Row) -> StoredSubscription:
    return StoredSubscription(**dict(row))
