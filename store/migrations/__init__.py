"""Schema migrations of every store, applied when the store opens (Alembic, run from code).

**One branch per store.** The script directory (this package, revisions in ``versions/``) holds one
Alembic branch per store — ``api_keys``, ``registry``, ``experiments``, ``services``, ``responses``,
``requests`` — each rooted at its own ``<store>_0001`` and with its own version table,
``alembic_version_<store>``. A store's version is thus kept beside its tables wherever they are: in
its own SQLite file by default (``data/keys.sqlite`` holds ``alembic_version_api_keys``), or all in
one database with ``DATABASE_URL``, where the branches never see each other's rows. A store moves on
without the others: a new revision of the keys is ``down_revision = "api_keys_000N"`` in that branch.

**Opening costs one cheap read.** :func:`migrate` reads the version table first and returns when it
holds the branch's head (:attr:`StoreSchema.head`, written here so the fast path imports no
Alembic; ``tests/unit/store/test_migrations.py`` checks it against the scripts). Only otherwise does
it take a lock and run Alembic on that connection:

- the lock is the write transaction's: ``BEGIN IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on
  PostgreSQL (DDL is transactional there), so two processes opening an empty database at once
  migrate it once — the second waits, then finds the head and does nothing;
- **adoption**: a store written by the release before migrations (its first table present, no
  version table) first gains the columns that release added on open (:attr:`StoreSchema.added_columns`),
  is stamped at :attr:`StoreSchema.adopted_at` — the revision that is exactly that schema — and is
  then upgraded like any other;
- then ``upgrade <store>@head``.

Revisions are frozen: a change of schema is a new revision, never an edit of an old one.

Example:
    >>> from store.database import open_engine
    >>> engine = open_engine(tmp_path / "keys.sqlite")
    >>> migrate(engine, "api_keys")
    >>> migrate(engine, "api_keys")  # at head: one read, no Alembic
    >>> engine.dispose()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from core.errors import StoreError
from core.redaction import redacted
from store.database import write_transaction

__all__ = ["SCHEMAS", "StoreSchema", "alembic_config", "migrate"]

SCRIPTS = Path(__file__).resolve().parent

_LOCK_KEY = 0x6D6F64656C796172  # "modelyar": one advisory lock for every store's migration
"""PostgreSQL advisory lock held while any store of a database is migrated."""


@dataclass(frozen=True)
class StoreSchema:
    """What :func:`migrate` knows of one store's branch."""

    name: str
    """The branch label (and the store's row in ``store_versions``)."""
    head: str
    """The branch's newest revision."""
    first_table: str
    """A table every file of the release before migrations holds (adoption looks for it)."""
    adopted_at: str
    """The revision whose schema is exactly that release's (after :attr:`added_columns`)."""
    added_columns: dict[str, dict[str, str]] = field(default_factory=dict)
    """``{table: {column: SQL type}}`` that release added when it opened an older file."""
    counted: bool = False
    """Whether every write bumps the store's ``store_versions`` row (:mod:`store.versions`): the stores
    other processes cache (keys, registry) or read-modify-write under that row's lock (services)."""

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"


SCHEMAS = {
    schema.name: schema
    for schema in (
        StoreSchema("api_keys", "api_keys_0002", "api_keys", "api_keys_0001", {"api_keys": {"service": "TEXT"}}, True),
        StoreSchema("registry", "registry_0002", "models", "registry_0001", counted=True),
        StoreSchema("services", "services_0002", "services", "services_0001", counted=True),
        StoreSchema("experiments", "experiments_0001", "ab_events", "experiments_0001"),
        StoreSchema("responses", "responses_0001", "responses", "responses_0001"),
        StoreSchema(
            "requests", "requests_0002", "requests", "requests_0001", {"requests": {"key_id": "TEXT", "cache": "TEXT"}}
        ),
    )
}
"""Every store's branch, by name: the registry a new store adds itself to."""


def migrate(engine: Engine, store: str) -> None:
    """Bring ``store``'s tables in ``engine``'s database to the branch's head (see the module docstring).

    Raises:
        StoreError: the database cannot be reached (its URL named without the password).
    """
    schema = SCHEMAS[store]
    try:
        with engine.connect() as conn:
            if _current(conn, schema) == schema.head:
                return
        with write_transaction(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            current = _current(conn, schema)
            if current == schema.head:
                return  # another process migrated it while we waited
            if current is None and inspect(conn).has_table(schema.first_table):
                _adopt(conn, schema)
            _alembic(conn, schema, "upgrade", f"{schema.name}@head")
    except OperationalError as exc:
        url = redacted(engine.url.render_as_string(hide_password=False))
        raise StoreError(f"the {store} store at {url} cannot be opened: {exc.orig}") from None


def alembic_config(conn: Connection | None = None, version_table: str = "alembic_version") -> Any:
    """An Alembic ``Config`` on this script directory; ``env.py`` runs on ``conn`` with ``version_table``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes.update(connection=conn, version_table=version_table)
    return config


def _current(conn: Connection, schema: StoreSchema) -> str | None:
    if not inspect(conn).has_table(schema.version_table):
        return None
    return conn.execute(text(f"SELECT version_num FROM {schema.version_table}")).scalar()


def _adopt(conn: Connection, schema: StoreSchema) -> None:
    """A file the release before migrations wrote: add the columns it may lack, stamp its revision."""
    for table, columns in schema.added_columns.items():
        present = {column["name"] for column in inspect(conn).get_columns(table)}
        for column, kind in columns.items():
            if column not in present:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
    _alembic(conn, schema, "stamp", schema.adopted_at)


def _alembic(conn: Connection, schema: StoreSchema, command_name: str, revision: str) -> None:
    from alembic import command

    getattr(command, command_name)(alembic_config(conn, schema.version_table), revision)
