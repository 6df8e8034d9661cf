"""Tables behind the runtime model registry (``data/registry.sqlite``, or ``DATABASE_URL``).

``models``: one row per runtime-registered model name (its full spec as JSON).
``offline``: ``(model, deployment)`` pairs taken offline (``*`` = the whole model).
``changes``: every re-registration that changed a spec, with its field-level diff.

Reads go through :class:`RegistryDB`; writes through :meth:`RegistryDB.write`, one transaction whose
:class:`RegistryWrite` reads and writes inside it (a registration reads the stored spec, merges and
saves it with no other writer in between). Every write bumps the registry's change counter
(:mod:`store.versions`): :meth:`RegistryDB.generation` is what the registry's cache is keyed on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, delete, select
from sqlalchemy.engine import Connection

from store.database import REAL_NUMBER
from store.store_engine import StoreEngine

__all__ = ["RegistryDB", "RegistryWrite", "changes", "models", "offline"]

_metadata = MetaData()
models = Table(
    "models",
    _metadata,
    Column("name", Text, primary_key=True),
    Column("spec", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("owner", Text, nullable=False, server_default=""),
    Column("updated_at", REAL_NUMBER, nullable=False),
)
offline = Table(
    "offline",
    _metadata,
    Column("model", Text, primary_key=True),
    Column("deployment", Text, primary_key=True),
    Column("at", REAL_NUMBER, nullable=False),
)
changes = Table(
    "changes",
    _metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model", Text, nullable=False),
    Column("at", REAL_NUMBER, nullable=False),
    Column("old_fingerprint", Text),
    Column("new_fingerprint", Text, nullable=False),
    Column("diff", Text, nullable=False),
    Column("breaking", Text, nullable=False),
    sqlite_autoincrement=True,
)


class RegistryWrite:
    """The operations of one registry write transaction (see :meth:`RegistryDB.write`)."""

    def __init__(self, conn: Connection, tables: StoreEngine):
        self.conn, self._tables = conn, tables

    def stored_spec(self, name: str) -> dict[str, Any] | None:
        spec = self.conn.execute(select(models.c.spec).where(models.c.name == name)).scalar()
        return json.loads(spec) if spec else None

    def save_spec(self, name: str, spec: dict[str, Any], fingerprint: str, owner: str) -> None:
        row = {
            "name": name,
            "spec": json.dumps(spec, sort_keys=True),
            "fingerprint": fingerprint,
            "owner": owner,
            "updated_at": time.time(),
        }
        self.conn.execute(self._tables.upsert(models, ["name"]).values(row))

    def record_change(
        self, name: str, old_fp: str | None, new_fp: str, diff: list[dict[str, Any]], breaking: list[str]
    ) -> None:
        row = {
            "model": name,
            "at": time.time(),
            "old_fingerprint": old_fp,
            "new_fingerprint": new_fp,
            "diff": json.dumps(diff),
            "breaking": json.dumps(breaking),
        }
        self.conn.execute(changes.insert().values(row))

    def set_offline(self, model: str, deployment: str) -> None:
        row = {"model": model, "deployment": deployment, "at": time.time()}
        self.conn.execute(self._tables.upsert(offline, ["model", "deployment"]).values(row))

    def clear_offline(self, model: str, deployments: list[str]) -> None:
        self.conn.execute(delete(offline).where((offline.c.model == model) & (offline.c.deployment == "*")))
        if deployments:
            self.conn.execute(delete(offline).where((offline.c.model == model) & offline.c.deployment.in_(deployments)))


class RegistryDB:
    """Typed access to the registry tables; safe to share between threads (pooled connections).

    Args:
        target: a SQLite file path or a SQLAlchemy URL (created and migrated if needed).

    Example:
        >>> db = RegistryDB(tmp_path / "registry.sqlite")
        >>> with db.write() as tx:
        ...     tx.save_spec("m", {"name": "m"}, "fp1", "team-a")
        >>> db.stored_specs(), db.own_writes
        ({'m': {'name': 'm'}}, 1)
        >>> db.close()
    """

    def __init__(self, target: Path | str):
        self.tables = StoreEngine(target, "registry")
        self._own_writes = 0

    def generation(self) -> int:
        """Changes whenever a registry write commits, from this process or any other (a cache key)."""
        return self.tables.version()

    @property
    def own_writes(self) -> int:
        """Writes this object committed (the registry re-reads at once after its own)."""
        return self._own_writes

    @contextmanager
    def write(self) -> Iterator[RegistryWrite]:
        """One write transaction (no other registry writer runs until it commits)."""
        with self.tables.write() as conn:
            yield RegistryWrite(conn, self.tables)
        self._own_writes += 1

    def stored_specs(self) -> dict[str, dict[str, Any]]:
        with self.tables.read() as conn:
            rows = conn.execute(select(models.c.name, models.c.spec).order_by(models.c.name))
            return {name: json.loads(spec) for name, spec in rows}

    def stored_spec(self, name: str) -> dict[str, Any] | None:
        with self.tables.read() as conn:
            spec = conn.execute(select(models.c.spec).where(models.c.name == name)).scalar()
        return json.loads(spec) if spec else None

    def changes(self, name: str) -> list[dict[str, Any]]:
        query = (
            select(
                changes.c.at, changes.c.old_fingerprint, changes.c.new_fingerprint, changes.c.diff, changes.c.breaking
            )
            .where(changes.c.model == name)
            .order_by(changes.c.id)
        )
        with self.tables.read() as conn:
            rows = [row._mapping for row in conn.execute(query)]
        return [{**row, "diff": json.loads(row["diff"]), "breaking": json.loads(row["breaking"])} for row in rows]

    def offline_pairs(self) -> set[tuple[str, str]]:
        with self.tables.read() as conn:
            return {
                (model, deployment) for model, deployment in conn.execute(select(offline.c.model, offline.c.deployment))
            }

    def set_offline(self, model: str, deployment: str) -> None:
        with self.write() as tx:
            tx.set_offline(model, deployment)

    def clear_offline(self, model: str, deployments: list[str]) -> None:
        with self.write() as tx:
            tx.clear_offline(model, deployments)

    def close(self) -> None:
        self.tables.close()
