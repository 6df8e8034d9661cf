"""``create_app``: one FastAPI application per call, with everything it needs on ``app.state``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from app.server import images_api, keys_api, openai_api, ops_api, prompts_api, registry_api
from app.server.cache import ResponseCache
from app.server.errors import install_error_handlers
from app.server.keys import KeyRing
from app.server.limits import BodySizeLimit
from app.server.metrics import GatewayMetrics
from app.server.passthrough import Passthrough
from app.server.request_log import RequestLog
from app.server.settings import GatewaySettings
from app.server.state import Gateway
from chains.prompt_library import PromptLibrary
from core.settings import data_dir
from models.registry import Registry
from routers.router import RouterRunnable

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
    request_log = RequestLog(
        settings.database_url or settings.request_log_path or data_dir() / "requests.sqlite",
        batch_size=settings.log_batch_size,
        flush_seconds=settings.log_flush_seconds,
        retention_days=settings.log_retention_days,
        prune_every_seconds=settings.log_prune_every_seconds,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.knowledge:
            from knowledge import ensure_sample_kb

            await run_in_threadpool(ensure_sample_kb, settings.knowledge_collection)
        try:
            yield
        finally:
            await passthrough.close()
            request_log.close()
            keys.close()

    app = FastAPI(
        title="Modelyard gateway",
        version="0.1.0",
        lifespan=lifespan,
        description="Many LLMs behind one OpenAI-compatible API, with routing and fallbacks.",
    )
    keys = KeyRing(settings.keys_path or data_dir() / "keys.sqlite")
    passthrough = Passthrough(router)
    metrics = GatewayMetrics()
    app.state.gateway = Gateway(
        registry,
        router,
        settings,
        metrics,
        request_log,
        keys=keys,
        cache=ResponseCache(settings.cache, on_lookup=metrics.cache_lookup),
        prompts=PromptLibrary(settings.prompts_dir),
        passthrough=passthrough,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    for module in (openai_api, images_api, prompts_api, registry_api, ops_api, keys_api):
        app.include_router(module.router)
    if settings.knowledge:
        from app.server.langserve_routes import add_chain_routes

        add_chain_routes(app, router, settings.knowledge_collection)
    return app
