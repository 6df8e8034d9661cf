"""Alembic's entry point for :mod:`store.migrations`: runs on the connection :func:`store.migrations.migrate`
hands over (inside its locked transaction), recording versions in that store's own version table."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
if connection is None:
    raise RuntimeError("store.migrations runs from code (store.migrations.migrate), with a connection")
context.configure(connection=connection, version_table=context.config.attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()
