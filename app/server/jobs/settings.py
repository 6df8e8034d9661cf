"""Settings of the background jobs (the Batch API's lines, knowledge ingestion), fixed when the app is built."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["JobSettings"]


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


class JobSettings(BaseModel):
    """Where batches are kept and how their jobs run (``GatewaySettings.jobs``).

    Example:
        >>> JobSettings(local_concurrency=2).local_concurrency
        2
    """

    model_config = ConfigDict(extra="forbid")

    batches_path: Path | None = None
    """SQLite file of the Batch API's files, batches and lines; ``None`` = ``data/batches.sqlite``
    (``DATABASE_URL`` wins, as for the request log)."""
    jobs_path: Path | None = None
    """SQLite file of long jobs' progress and uploads (knowledge ingestion); ``None`` = ``data/jobs.sqlite``."""
    max_file_bytes: int = Field(100_000_000, gt=0)
    """Largest upload to ``POST /v1/files`` and ``/api/knowledge/…`` (the rest keeps ``max_body_bytes``)."""
    max_lines: int = Field(50_000, gt=0)
    """Most requests in one batch input file (OpenAI's limit)."""
    local_concurrency: int = Field(4, gt=0)
    """Lines run at once by the in-process worker of a gateway without ``REDIS_URL``."""
    lease_seconds: float = Field(default_factory=lambda: _env_float("MODELYARD_JOB_LEASE_SECONDS", 60.0), gt=0)
    """A worker that has not been heard from for this long is dead: the jobs it held go back to the
    queue for another worker (``MODELYARD_JOB_LEASE_SECONDS``). Live workers renew it every third of it."""
    retry_after_seconds: float = Field(5.0, gt=0)
    """Wait before a line refused with 429 / 503 (rate limit, shared state down) is tried again
    when the answer gives no ``Retry-After``."""
    output_retention_days: float = Field(30.0, gt=0)
    """Output and error files expire this long after they are written (``expires_at``), as OpenAI's."""
