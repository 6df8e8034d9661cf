"""The revisions of every store's branch (``<store>_000N``); Alembic loads them by path."""
