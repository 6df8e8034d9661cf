"""Settings of one gateway instance, fixed when the app is built."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.server.gateway.cache import CacheSettings
from app.server.jobs.settings import JobSettings
from core.settings import data_dir

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
    """Admin key (``MODELYARD_MASTER_KEY``): admin endpoints, and ``/v1`` without limits. ``None``: admin
    endpoints answer only callers on this machine, and ``/v1`` is open until the first API key exists."""
    allowed_key_envs: list[str] = Field(
        default_factory=lambda: [n.strip() for n in os.environ.get("MODELYARD_KEY_ENVS", "").split(",") if n.strip()]
    )
    """Environment variables a model registered at run time may name as ``api_key_env`` besides those
    the catalog file declares (``MODELYARD_KEY_ENVS``, comma-separated). Any other name is refused:
    the gateway would send that variable's value as a bearer token to the registered URL."""
    protect_ops: bool = Field(default_factory=lambda: os.environ.get("MODELYARD_PROTECT_OPS", "") in {"1", "true"})
    """``/metrics``, ``/docs``, ``/redoc`` and ``/openapi.json`` need a consumer key or the admin
    (``MODELYARD_PROTECT_OPS=1``). Off by default, so a Prometheus scraper on loopback needs no key;
    ``/healthz`` is always open."""
    admin_hosts: list[str] = ["127.0.0.1", "localhost", "::1"]
    """``Host`` header names the admin surface answers to while no master key is set (a page on
    another domain that resolves to this machine — DNS rebinding — is refused)."""
    knowledge: bool = True
    """Serve the LangServe routes ``/support`` and ``/rag`` (ingests the sample KB at startup)."""
    warm: bool = False
    """Load the knowledge base and the embedding model at start instead of on first use."""
    knowledge_collection: str = "shop"
    """The knowledge-base collection the LangServe chains answer from."""
    request_log_path: Path | None = None
    """SQLite file of the request log; ``None`` = ``data/requests.sqlite``."""
    keys_path: Path | None = None
    """SQLite file of the consumer API keys; ``None`` = ``data/keys.sqlite``."""
    responses_path: Path | None = None
    """SQLite file of the stored ``/v1/responses`` answers; ``None`` = ``data/responses.sqlite``."""
    responses_retention_days: float | None = Field(30.0, gt=0)
    """Stored ``/v1/responses`` answers older than this are gone (never read, deleted by later writes);
    ``None`` keeps everything. 30 days, as OpenAI keeps stored responses."""
    services_path: Path | None = None
    """SQLite file of the published services and subscriptions; ``None`` = ``data/services.sqlite``."""
    database_url: str | None = Field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    """A SQLAlchemy URL (``DATABASE_URL``, e.g. ``postgresql+psycopg://user:pw@host/modelyard``) that holds
    every store of the gateway — keys, request log, stored responses, services — so replicas share them;
    wins over the ``*_path`` fields (see :meth:`store_target`). ``None``: one SQLite file per store."""
    redis_url: str | None = Field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    """Redis shared by gateway replicas (``REDIS_URL``): the keys' rate limits and budgets are enforced
    there, fail closed (Redis unreachable → 503). ``None``: in this process, as a single gateway."""
    redis_prefix: str = Field(default_factory=lambda: os.environ.get("MODELYARD_REDIS_PREFIX") or "modelyard")
    """The first part of every Redis key name (``MODELYARD_REDIS_PREFIX``), so deployments can share a Redis."""
    log_retention_days: float | None = Field(30.0, gt=0)
    """Request-log rows older than this are deleted (checked hourly); ``None`` keeps everything."""
    log_rollup_retention_days: float | None = Field(400.0, gt=0)
    """The request log's hourly usage totals (what ``/api/usage`` reads) older than this are deleted, never
    before the rows (see store/request_log.py); ``None`` keeps them."""
    log_prune_every_seconds: float = Field(3600.0, gt=0)
    """How often the retention is applied."""
    log_batch_size: int = Field(200, gt=0)
    """Rows written per transaction by the request-log thread."""
    log_flush_seconds: float = Field(0.5, gt=0)
    """Longest a logged row waits before it is written."""
    cache: CacheSettings = CacheSettings()
    """The chat response cache: exact on (TTL 300 s), semantic opt-in (see app/server/gateway/cache.py)."""
    prompts_dir: Path | None = None
    """Folder of the prompt APIs' YAML files (``POST /api/prompts/{name}``); ``None`` = ``config/prompts``."""
    jobs: JobSettings = JobSettings()
    """Background jobs: the Batch API's store, upload size, local concurrency, the workers' lease
    (see app/server/jobs/settings.py)."""

    def store_target(self, path: Path | None, file_name: str) -> Path | str:
        """Where one of the gateway's stores lives: :attr:`database_url` when set, else ``path``, else
        ``file_name`` in the data folder.

        Example:
            >>> GatewaySettings(database_url=None).store_target(Path("k.sqlite"), "keys.sqlite")
            PosixPath('k.sqlite')
            >>> GatewaySettings(database_url="postgresql+psycopg://db/m").store_target(None, "keys.sqlite")
            'postgresql+psycopg://db/m'
        """
        return self.database_url or path or data_dir() / file_name
