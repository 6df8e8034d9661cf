"""SQL of the consumer API keys (``data/keys.sqlite``, or ``DATABASE_URL``): one row per key, the
secret only as a hash.

A key's secret is shown once, when it is created; the table keeps its SHA-256 and its first
characters (``prefix``, to tell keys apart in a listing). Spend is added as increments, so two
writers never lose each other's updates. Every write bumps the store's change counter
(:mod:`store.versions`), which the gateway's key ring polls to see keys another replica changed.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, Text, bindparam, func, inspect, select, text, update

from store import versions
from store.database import REAL_NUMBER, open_engine
from store.store_engine import StoreEngine

__all__ = ["ApiKeysDB", "StoredKey", "api_keys", "count_active_keys"]

api_keys = Table(
    "api_keys",
    MetaData(),
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_sha256", Text, nullable=False, unique=True),
    Column("prefix", Text, nullable=False),
    Column("allowed_models", Text, nullable=False, server_default="[]"),
    Column("rpm", Integer),
    Column("tpm", Integer),
    Column("budget_usd", REAL_NUMBER),
    Column("spent_usd", REAL_NUMBER, nullable=False, server_default=text("0")),
    Column("created", REAL_NUMBER, nullable=False),
    Column("revoked_at", REAL_NUMBER),
    Column("service", Text),
)
"""One row per key (schema: ``store/migrations/versions/api_keys_*``)."""


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
    def from_row(cls, row: Mapping[Any, Any]) -> StoredKey:
        values = dict(row)
        values["allowed_models"] = tuple(json.loads(values["allowed_models"]))
        return cls(**values)


class ApiKeysDB:
    """Reads and writes the ``api_keys`` table.

    Args:
        target: a SQLite file path or a SQLAlchemy URL (created and migrated if needed).

    Example:
        >>> db = ApiKeysDB(tmp_path / "keys.sqlite")
        >>> db.insert(StoredKey("key_1", "team-a", "9f86…", "my-AbCdE", (), created=time.time()))
        >>> [key.name for key in db.all()]
        ['team-a']
        >>> db.close()
    """

    def __init__(self, target: Path | str):
        self.tables = StoreEngine(target, "api_keys")

    def insert(self, key: StoredKey) -> None:
        """Add a new key (its id and hash must be new: ``sqlalchemy.exc.IntegrityError`` otherwise)."""
        row = {**asdict(key), "allowed_models": json.dumps(list(key.allowed_models))}
        with self.tables.write() as conn:
            conn.execute(api_keys.insert().values(row))

    def all(self) -> list[StoredKey]:
        """Every key, revoked ones included, oldest first."""
        with self.tables.read() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created, api_keys.c.id))
            return [StoredKey.from_row(row._mapping) for row in rows]

    def revoke(self, key_id: str, at: float | None = None) -> float | None:
        """Mark ``key_id`` revoked; the revocation time (the first one if already revoked), ``None`` if unknown."""
        when = time.time() if at is None else at
        with self.tables.write() as conn:
            active = (api_keys.c.id == key_id) & api_keys.c.revoked_at.is_(None)
            conn.execute(update(api_keys).where(active).values(revoked_at=when))
            revoked: float | None = conn.execute(select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)).scalar()
        return revoked

    def add_spend(self, spend: Mapping[str, float]) -> int | None:
        """Add each key's USD increment to its ``spent_usd``, in one transaction (an increment in SQL, so
        writers in other processes lose nothing); the store's :meth:`data_version` this write made
        (``None`` when there was nothing to write). One less than that is the version just before it:
        writes are serialised, so no other write came between."""
        if not spend:
            return None
        statement = (
            update(api_keys)
            .where(api_keys.c.id == bindparam("key"))
            .values(spent_usd=api_keys.c.spent_usd + bindparam("usd"))
        )
        with self.tables.write() as conn:
            conn.execute(statement, [{"key": key_id, "usd": usd} for key_id, usd in spend.items()])
            return versions.current(conn, "api_keys")

    def data_version(self) -> int:
        """Changes whenever a write to the keys commits, from this process or any other (:mod:`store.versions`)."""
        return self.tables.version()

    def close(self) -> None:
        self.tables.close()


def count_active_keys(target: Path | str) -> int:
    """How many unrevoked keys ``target`` holds: a SQLite file (0 when it does not exist; never created)
    or a database URL (0 when it has no keys table yet; never migrated)."""
    if isinstance(target, str):
        return _count_in_database(target)
    path = target
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL").fetchone()[0])
    except sqlite3.OperationalError:  # a file without the table holds no keys
        return 0
    finally:
        conn.close()


def _count_in_database(url: str) -> int:
    engine = open_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("api_keys"):
                return 0
            active = select(func.count()).select_from(api_keys).where(api_keys.c.revoked_at.is_(None))
            return int(conn.execute(active).scalar_one())
    finally:
        engine.dispose()
