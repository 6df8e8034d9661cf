"""What one gateway instance holds, reachable from a request as ``gateway(request)``."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.server.gateway.cache import ResponseCache
from app.server.gateway.keys import ApiKey, KeyRing, Reservation
from app.server.gateway.lifecycle import Call
from app.server.gateway.metrics import GatewayMetrics
from app.server.gateway.services import ServiceCatalog
from app.server.gateway.settings import GatewaySettings
from chains.prompt_library import PromptLibrary
from models.adapters.openai_http import OpenAIHTTPTransport
from models.registry import Registry
from routers.router import RouterRunnable
from store.request_log import CallRecord, RequestLog
from store.responses_db import ResponsesDB

if TYPE_CHECKING:  # the jobs post to the app through the HTTP layer, which reads this module
    from app.server.jobs.runner import JobRunner

__all__ = ["Gateway", "gateway"]

log = logging.getLogger(__name__)


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
    forwarder: OpenAIHTTPTransport
    """The raw OpenAI-HTTP transport (one pooled session) for OpenAI-protocol deployments."""
    responses: ResponsesDB
    """Stored ``/v1/responses`` answers, per API key (``previous_response_id``, ``GET``, ``DELETE``)."""
    services: ServiceCatalog
    """Published prompt services, their versions and subscriptions (``/api/services``)."""
    jobs: JobRunner
    """Background work (the Batch API's lines): its queue, its store and, where jobs run here, the runner."""

    def open_call(
        self, endpoint: str, model: str, key: ApiKey | None, cache: str = "", started: float | None = None
    ) -> Call:
        """A :class:`Call` whose settlement charges ``key`` and writes metrics and the request log."""

        def settle(record: CallRecord) -> None:
            self.account(record, key, call.reservation)

        call = Call(settle, endpoint, model, key.id if key is not None else "", cache, started)
        return call

    def account(self, record: CallRecord, key: ApiKey | None = None, reservation: Reservation | None = None) -> None:
        """Release ``reservation``, charge ``key`` for ``record``, observe it and queue its log row; never raises."""
        try:
            if key is not None:
                self.keys.settle(reservation, key, record.input_tokens + record.output_tokens, record.cost_usd)
            self.metrics.observe(record)
        except Exception:  # accounting must not fail a request
            log.exception("accounting failed for %s", record.endpoint)
        with contextlib.suppress(Exception):
            self.log.write(record)

    def forwardable(self, attempts: list[tuple[Any, str]]) -> bool:
        """Whether every planned attempt can go over the raw HTTP transport."""
        return all(self.forwarder.forwards(entry.spec.provider) for entry, _ in attempts)


def gateway(request: Any) -> Gateway:
    """The :class:`Gateway` of the app serving ``request``."""
    found: Gateway = request.app.state.gateway
    return found
