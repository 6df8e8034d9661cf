"""Scratch PostgreSQL databases for tests: one per test module, one schema per test.

The server is the machine's PostgreSQL (``127.0.0.1:5432``, trust auth, database ``test``;
``MODELYARD_TEST_POSTGRES`` overrides the admin URL). :func:`scratch_database` creates
``modelyard_t_<random>`` through an AUTOCOMMIT connection and drops it afterwards (``WITH (FORCE)``,
so a connection a failed test left open does not keep it alive); :func:`scratch_schema` gives each
test an empty schema in it (the URL sets ``search_path``), so tests never see each other's rows and
parallel or repeated runs never collide. A server that does not answer fails the test with the
command that starts it — never a skip.

Example:
    >>> with scratch_database() as database, scratch_schema(database) as url:  # doctest: +SKIP
    ...     ApiKeysDB(url).all()
    []
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

__all__ = ["ADMIN_URL", "postgres_database", "scratch_database", "scratch_schema", "store_target"]

ADMIN_URL = os.environ.get("MODELYARD_TEST_POSTGRES") or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = "bash scripts/ensure_services.sh"


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, empty database; dropped when the block ends."""
    name = f"modelyard_t_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL at {make_url(ADMIN_URL).render_as_string()} is not reachable ({exc.orig}); "
            f"start it with `{START}`",
            pytrace=False,
        )
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def scratch_schema(database_url: str) -> Iterator[str]:
    """A URL on ``database_url`` whose tables go to a new schema (dropped afterwards)."""
    schema = f"t_{secrets.token_hex(4)}"
    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """This test module's scratch database (its URL)."""
    with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """Where a test's stores live, once per backend: a SQLite file in the test's folder, or an empty
    schema in the module's PostgreSQL database (every store in it, as with ``DATABASE_URL``)."""
    if request.param == "sqlite":
        yield tmp_path / "store.sqlite"
        return
    with scratch_schema(request.getfixturevalue("postgres_database")) as url:
        yield url
