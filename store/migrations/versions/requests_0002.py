"""requests: hourly rollups (request_rollups, backfilled from the rows already logged) and the
(key_id, ts) index one key's usage reads.

Revision ID: requests_0002
Revises: requests_0001

The backfill is one ``INSERT … SELECT … GROUP BY`` in the database, inside the migration's locked
transaction, so a log is never seen with rows but without their rollups. Its hour is ``floor(ts / 3600)``
as :func:`store.request_rollups.hour_of` computes it (on SQLite ``CAST(… AS INTEGER)``, which is the
floor for the log's non-negative timestamps).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "requests_0002"
down_revision = "requests_0001"
branch_labels = None
depends_on = None

_BACKFILL = """
INSERT INTO request_rollups (hour, key_id, model, requests, errors, input_tokens, output_tokens, cost_usd,
                             latency_ms_sum, latency_count, ttft_ms_sum, ttft_count)
SELECT {hour}, COALESCE(key_id, ''), COALESCE(model, '-'), COUNT(*),
       COALESCE(SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_usd), 0.0),
       COALESCE(SUM(latency_ms), 0.0), COUNT(latency_ms), COALESCE(SUM(ttft_ms), 0.0), COUNT(ttft_ms)
FROM requests
GROUP BY {hour}, COALESCE(key_id, ''), COALESCE(model, '-')
"""

_HOUR = {"postgresql": "CAST(FLOOR(ts / 3600) AS BIGINT)", "sqlite": "CAST(ts / 3600 AS INTEGER)"}


def upgrade() -> None:
    op.create_table(
        "request_rollups",
        sa.Column("hour", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("key_id", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("input_tokens", sa.BigInteger, nullable=False),
        sa.Column("output_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("latency_ms_sum", sa.Float, nullable=False),
        sa.Column("latency_count", sa.BigInteger, nullable=False),
        sa.Column("ttft_ms_sum", sa.Float, nullable=False),
        sa.Column("ttft_count", sa.BigInteger, nullable=False),
    )
    op.create_index("request_rollups_key", "request_rollups", ["key_id", "hour"])
    op.create_index("requests_key_ts", "requests", ["key_id", "ts"])
    hour = _HOUR[op.get_bind().dialect.name]
    op.execute(sa.text(_BACKFILL.format(hour=hour)))


def downgrade() -> None:
    op.drop_index("requests_key_ts", table_name="requests")
    op.drop_table("request_rollups")
