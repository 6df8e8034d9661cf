"""SQL of the published prompt services (``data/services.sqlite``, or ``DATABASE_URL``): services, their
versions, subscriptions.

A service's content (prompt template, model, parameters, description) is stored per version and
never changed: a revision adds version ``n + 1``. Its settings (approval mode, the limits every
subscription key gets) are one row that may change. A subscription names the consumer key issued
for it (``key_id`` in ``data/keys.sqlite``: the secret lives only there, as a hash) and its status.
Writes run one at a time across processes — ``BEGIN IMMEDIATE`` on SQLite, the store's
:mod:`store.versions` row lock on PostgreSQL — so two processes never give out one version number
or decide one subscription twice.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Column, Index, Integer, MetaData, RowMapping, Table, Text, select, update
from sqlalchemy.engine import Connection

from store.database import REAL_NUMBER
from store.store_engine import StoreEngine

__all__ = [
    "Approval",
    "ServicesDB",
    "Status",
    "StoredService",
    "StoredSubscription",
    "StoredVersion",
    "service_versions",
    "services",
    "subscriptions",
]

Approval = Literal["manual", "auto"]
Status = Literal["pending", "approved", "rejected", "revoked"]

_metadata = MetaData()
services = Table(
    "services",
    _metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("approval", Text, nullable=False),
    Column("limits", Text, nullable=False, server_default="{}"),
    Column("created", REAL_NUMBER, nullable=False),
)
service_versions = Table(
    "service_versions",
    _metadata,
    Column("service", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("created", REAL_NUMBER, nullable=False),
    Column("created_by", Text, nullable=False),
)
subscriptions = Table(
    "subscriptions",
    _metadata,
    Column("id", Text, primary_key=True),
    Column("service", Text, nullable=False),
    Column("subscriber", Text, nullable=False),
    Column("key_id", Text, nullable=False, unique=True),
    Column("status", Text, nullable=False),
    Column("created", REAL_NUMBER, nullable=False),
    Column("decided_at", REAL_NUMBER),
    Column("decided_by", Text),
    Column("reason", Text),
    Index("subscriptions_service", "service"),
)


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
        target: a SQLite file path or a SQLAlchemy URL (created and migrated if needed).

    Example:
        >>> db = ServicesDB(tmp_path / "services.sqlite")
        >>> db.create(StoredService("say", "team-a", "auto"), {"messages": []}, "f1", "team-a").version
        1
        >>> db.add_version("say", {"messages": [1]}, "f2", "team-a")[0].version
        2
        >>> db.close()
    """

    def __init__(self, target: Path | str):
        self.tables = StoreEngine(target, "services")

    # ---- services and versions -------------------------------------------------------------
    def create(self, service: StoredService, spec: dict[str, Any], fingerprint: str, by: str) -> StoredVersion:
        """Add a service with its version 1.

        Raises:
            KeyError: a service of that name exists.
        """
        now = time.time()
        row = {**service.__dict__, "limits": json.dumps(service.limits), "created": now}
        with self.tables.write() as conn:
            if conn.execute(select(services.c.name).where(services.c.name == service.name)).first():
                raise KeyError(service.name)
            conn.execute(services.insert().values(row))
            return _insert_version(conn, service.name, 1, spec, fingerprint, by, now)

    def add_version(self, name: str, spec: dict[str, Any], fingerprint: str, by: str) -> tuple[StoredVersion, bool]:
        """A new version when ``fingerprint`` differs from the latest one; ``(version, created)``."""
        with self.tables.write() as conn:
            latest = _latest(conn, name)
            if latest is None:
                raise KeyError(name)
            if latest.fingerprint == fingerprint:
                return latest, False
            return _insert_version(conn, name, latest.version + 1, spec, fingerprint, by, time.time()), True

    def update_settings(self, name: str, approval: Approval, limits: dict[str, Any]) -> None:
        """Change a service's approval mode and subscription limits (not versioned)."""
        with self.tables.write() as conn:
            conn.execute(
                update(services).where(services.c.name == name).values(approval=approval, limits=json.dumps(limits))
            )

    def service(self, name: str) -> StoredService | None:
        with self.tables.read() as conn:
            row = conn.execute(select(services).where(services.c.name == name)).first()
        return None if row is None else _service(row._mapping)

    def services(self) -> list[StoredService]:
        """Every service, by name."""
        with self.tables.read() as conn:
            return [_service(row._mapping) for row in conn.execute(select(services).order_by(services.c.name))]

    def version(self, name: str, version: int | None = None) -> StoredVersion | None:
        """Version ``version`` of ``name`` (``None`` = the latest)."""
        v = service_versions.c
        with self.tables.read() as conn:
            if version is None:
                return _latest(conn, name)
            row = conn.execute(select(service_versions).where((v.service == name) & (v.version == version))).first()
        return None if row is None else _version(row._mapping)

    def versions(self, name: str) -> list[StoredVersion]:
        """Every version of ``name``, oldest first."""
        v = service_versions.c
        with self.tables.read() as conn:
            rows = conn.execute(select(service_versions).where(v.service == name).order_by(v.version))
            return [_version(row._mapping) for row in rows]

    # ---- subscriptions ---------------------------------------------------------------------
    def subscribe(self, subscription: StoredSubscription) -> None:
        """Add a subscription (its id and key id must be new)."""
        with self.tables.write() as conn:
            conn.execute(subscriptions.insert().values(subscription.__dict__))

    def subscription(self, subscription_id: str) -> StoredSubscription | None:
        return self._one_subscription(subscriptions.c.id == subscription_id)

    def subscription_of_key(self, key_id: str) -> StoredSubscription | None:
        """The subscription a key was issued for (``None`` for a general key)."""
        return self._one_subscription(subscriptions.c.key_id == key_id)

    def _one_subscription(self, where: Any) -> StoredSubscription | None:
        with self.tables.read() as conn:
            row = conn.execute(select(subscriptions).where(where)).first()
        return None if row is None else StoredSubscription(**row._mapping)

    def subscriptions(self, service: str | None = None) -> list[StoredSubscription]:
        """Every subscription (of ``service`` when given), oldest first."""
        query = select(subscriptions).order_by(subscriptions.c.created, subscriptions.c.id)
        if service is not None:
            query = query.where(subscriptions.c.service == service)
        with self.tables.read() as conn:
            return [StoredSubscription(**row._mapping) for row in conn.execute(query)]

    def decide(
        self, subscription_id: str, status: Status, by: str, reason: str | None, allowed_from: tuple[Status, ...]
    ) -> StoredSubscription | None:
        """Move a subscription to ``status`` if it is in one of ``allowed_from``; the row after the
        change, or ``None`` when it was in another status (it is left unchanged)."""
        this = subscriptions.c.id == subscription_id
        with self.tables.write() as conn:
            current = conn.execute(select(subscriptions.c.status).where(this).with_for_update()).scalar()
            if current is None or current not in allowed_from:
                return None
            conn.execute(
                update(subscriptions)
                .where(this)
                .values(status=status, decided_at=time.time(), decided_by=by, reason=reason)
            )
            found = conn.execute(select(subscriptions).where(this)).one()
        return StoredSubscription(**found._mapping)

    def close(self) -> None:
        self.tables.close()


def _latest(conn: Connection, name: str) -> StoredVersion | None:
    v = service_versions.c
    row = conn.execute(select(service_versions).where(v.service == name).order_by(v.version.desc()).limit(1)).first()
    return None if row is None else _version(row._mapping)


def _insert_version(
    conn: Connection, name: str, number: int, spec: dict[str, Any], fingerprint: str, by: str, now: float
) -> StoredVersion:
    stored = StoredVersion(name, number, spec, fingerprint, now, by)
    conn.execute(service_versions.insert().values({**stored.__dict__, "spec": json.dumps(spec, sort_keys=True)}))
    return stored


def _service(row: RowMapping) -> StoredService:
    return StoredService(row["name"], row["owner"], row["approval"], json.loads(row["limits"]), row["created"])


def _version(row: RowMapping) -> StoredVersion:
    return StoredVersion(
        row["service"], row["version"], json.loads(row["spec"]), row["fingerprint"], row["created"], row["created_by"]
    )
