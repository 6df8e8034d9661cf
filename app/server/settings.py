"""Settings of one gateway instance, fixed when the app is built."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GatewaySettings"]


class GatewaySettings(BaseModel):
    """What :func:`app.server.create_app` needs besides the registry and the router.

    Example:
        >>> GatewaySettings(max_body_bytes=1024).max_body_bytes
        1024
    """

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(1_000_000, gt=0)
    """Requests with a larger body are refused with 413."""
    master_key: str | None = Field(default_factory=lambda: os.environ.get("MODELYARD_MASTER_KEY") or None)
    """Admin key for the registry and usage endpoints (``MODELYARD_MASTER_KEY``); ``None`` = open."""
    knowledge: bool = True
    """Serve the LangServe routes ``/support`` and ``/rag`` (ingests the sample KB at startup)."""
    knowledge_collection: str = "shop"
    """The knowledge-base collection the LangServe chains answer from."""
    request_log_path: Path | None = None
    """SQLite file of the request log; ``None`` = ``data/requests.sqlite``."""
    database_url: str | None = Field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    """A SQLAlchemy URL for the request log on a database server (``DATABASE_URL``); wins over
    ``request_log_path``."""
    log_retention_days: float | None = Field(30.0, gt=0)
    """Request-log rows older than this are deleted (checked hourly); ``None`` keeps everything."""
    log_prune_every_seconds: float = Field(3600.0, gt=0)
    """How often the retention is applied."""
    log_batch_size: int = Field(200, gt=0)
    """Rows written per transaction by the request-log thread."""
    log_flush_seconds: float = Field(0.5, gt=0)
    """Longest a logged row waits before it is written."""
