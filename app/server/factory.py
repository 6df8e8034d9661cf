"""``create_app``: one FastAPI application per call, with everything it needs on ``app.state``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app.server import routes
from app.server.dialects.anthropic import error_body as anthropic_error
from app.server.gateway.cache import ExactAnswers, ResponseCache
from app.server.gateway.keys import KeyRing
from app.server.gateway.limits import open_limit_store
from app.server.gateway.metrics import GatewayMetrics
from app.server.gateway.services import ServiceCatalog
from app.server.gateway.settings import GatewaySettings
from app.server.gateway.state import Gateway
from app.server.gateway.warmup import Once
from app.server.http.disclosure import RouteHeaderGuard, shown_to
from app.server.http.errors import install_error_handlers
from app.server.http.fast_chat import FastChatRoute
from app.server.http.limits import BodySizeLimit
from app.server.http.ops_guard import OpsGuard
from app.server.http.timing import ArrivalTime
from app.server.jobs.queue import open_queue
from app.server.jobs.runner import JobRunner
from chains.prompt_library import PromptLibrary
from models.adapters.openai_http import OpenAIHTTPTransport
from models.registry import Registry
from routers.router import RouterRunnable
from store.batches_db import BatchesDB
from store.jobs_db import JobsDB
from store.request_log import RequestLog
from store.responses_db import ResponsesDB
from store.services_db import ServicesDB

__all__ = ["create_app"]


def create_app(
    registry: Registry | None = None,
    router: RouterRunnable | None = None,
    settings: GatewaySettings | None = None,
    **overrides: Any,
) -> FastAPI:
    """Build the gateway.

    Args:
        registry: the model registry (default: the router's, or ``Registry()``).
        router: the router (default: ``RouterRunnable.from_config(registry)``).
        settings: gateway settings; keyword ``overrides`` replace single fields
            (``create_app(knowledge=False)``).

    Example:
        >>> app = create_app(knowledge=False)  # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    settings = (settings or GatewaySettings()).model_copy(update=overrides)
    settings = GatewaySettings.model_validate(settings.model_dump())
    if router is None:
        router = RouterRunnable.from_config(registry)
    registry = registry or router.registry
    shares_health = bool(settings.redis_url) and router.health.board is None
    if shares_health:  # failures, cooldowns and the half-open probe, with every replica on this Redis
        from routers.health_redis import RedisHealthBoard

        router.health.share(RedisHealthBoard(settings.redis_url or "", prefix=settings.redis_prefix))
    request_log = RequestLog(
        settings.store_target(settings.request_log_path, "requests.sqlite"),
        batch_size=settings.log_batch_size,
        flush_seconds=settings.log_flush_seconds,
        retention_days=settings.log_retention_days,
        prune_every_seconds=settings.log_prune_every_seconds,
        rollup_retention_days=settings.log_rollup_retention_days,
    )

    knowledge = Once(lambda: _ensure_knowledge(settings.knowledge_collection))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.warm:  # otherwise the first request that needs them loads them
            if settings.knowledge:
                await knowledge.arun()
            await asyncio.to_thread(_warm_models)
        await jobs.start(app)  # without Redis the batch lines run here, on this loop
        try:
            yield
        finally:
            await jobs.close()
            await forwarder.close()
            request_log.close()
            keys.close()
            responses.close()
            services_db.close()
            cache.close()
            if shares_health:
                router.health.close()

    app = FastAPI(
        title="Modelyard gateway",
        version="0.1.0",
        lifespan=lifespan,
        description="Many LLMs behind one OpenAI-compatible API, with routing and fallbacks.",
    )
    responses = ResponsesDB(
        settings.store_target(settings.responses_path, "responses.sqlite"),
        retention_days=settings.responses_retention_days,
    )
    forwarder = OpenAIHTTPTransport()
    services_db = ServicesDB(settings.store_target(settings.services_path, "services.sqlite"))
    prompts = PromptLibrary(settings.prompts_dir)
    metrics = GatewayMetrics(known_model=_model_names(registry))
    metrics.watch_health(router.health)
    # the keys' limits: in this process, or in Redis with REDIS_URL
    limits = open_limit_store(settings, metrics.redis_roundtrips.labels("limits"))
    cache = ResponseCache(settings.cache, on_lookup=metrics.cache_lookup, exact=_exact_answers(settings, metrics))
    keys = KeyRing(settings.store_target(settings.keys_path, "keys.sqlite"), limits=limits)
    batches = BatchesDB(settings.store_target(settings.jobs.batches_path, "batches.sqlite"))
    jobs_db = JobsDB(settings.store_target(settings.jobs.jobs_path, "jobs.sqlite"))
    jobs = JobRunner(open_queue(settings), batches, jobs_db, settings.jobs)  # Redis + workers with REDIS_URL
    app.state.gateway = Gateway(
        registry,
        router,
        settings,
        metrics,
        request_log,
        keys=keys,
        cache=cache,
        prompts=prompts,
        forwarder=forwarder,
        responses=responses,
        services=ServiceCatalog(services_db, keys, prompts),
        jobs=jobs,
    )
    install_error_handlers(app, shown_to)
    app.add_middleware(FastChatRoute)  # innermost: chat completions without FastAPI's per-request cost
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        shapes={"/v1/messages": anthropic_error},
        larger={"/v1/files": settings.jobs.max_file_bytes, "/api/knowledge/": settings.jobs.max_file_bytes},
    )
    if settings.protect_ops:
        app.add_middleware(OpsGuard)
    app.add_middleware(RouteHeaderGuard)  # outside the chat route: upstream error text is the admin's
    app.add_middleware(ArrivalTime)  # outermost: the overhead header counts from here
    for module in routes.MODULES:
        app.include_router(module.router)
    if settings.knowledge:
        from app.server.routes.langserve import add_chain_routes

        add_chain_routes(app, router, settings.knowledge_collection, knowledge)
    return app


def _exact_answers(settings: GatewaySettings, metrics: GatewayMetrics) -> ExactAnswers | None:
    """The exact cache's store: Redis (shared by the replicas) with ``REDIS_URL``, else this process."""
    if not settings.redis_url:
        return None
    from app.server.gateway.cache_redis import RedisExactAnswers

    ttl, size, counter = settings.cache.ttl_seconds, settings.cache.max_bytes, metrics.redis_roundtrips.labels("cache")
    return RedisExactAnswers(settings.redis_url, settings.redis_prefix, ttl, size, counter=counter)


def _model_names(registry: Registry) -> Callable[[str], bool]:
    """``name in registry`` (``auto`` and ``-`` included), re-read only when the registry changes."""
    known: dict[str, Any] = {"generation": None, "names": frozenset()}

    def contains(name: str) -> bool:
        generation = registry.generation()
        if known["generation"] != generation:
            names = {entry.spec.name for entry in registry.entries()}
            known["generation"], known["names"] = generation, frozenset(names | {"auto", "-", ""})
        return name in known["names"]

    return contains


def _ensure_knowledge(collection: str) -> None:
    from knowledge import ensure_sample_kb

    ensure_sample_kb(collection)


def _warm_models() -> None:
    from models.embeddings import local_embeddings

    local_embeddings()
