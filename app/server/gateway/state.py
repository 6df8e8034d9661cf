"""What one gateway instance holds, reachable from a request as ``gateway(request)``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from app.server.cache import ResponseCache
from app.server.keys import KeyRing
from app.server.metrics import GatewayMetrics
from app.server.passthrough import Passthrough
from app.server.request_log import RequestLog
from app.server.settings import GatewaySettings
from chains.prompt_library import PromptLibrary
from models.registry import Registry
from routers.router import RouterRunnable

__all__ = ["Gateway", "gateway"]


@dataclass(frozen=True)
class Gateway:
    """The registry, the router and the accounting of one app (kept on ``app.state``)."""

    registry: Registry
    router: RouterRunnable
    settings: GatewaySettings
    metrics: GatewayMetrics
    log: RequestLog
    keys: KeyRing
    cache: ResponseCache
    """The chat response cache (exact and semantic)."""
    prompts: PromptLibrary
    """The prompt APIs' templates (``config/prompts``)."""
    passthrough: Passthrough
    """The fast path for OpenAI-compatible deployments (one pooled HTTP session)."""


def gateway(request: Request) -> Gateway:
    """The :class:`Gateway` of the app serving ``request``."""
    return request.app.state.gateway
