"""The RouterRunnable: the one runnable every surface calls instead of a fixed model.

It *decides* with the configured policies (explicit → modality → context window → task → A/B
→ cost), then *dispatches*: the chosen model's deployments (ordered by the balancer, cooled-down
ones skipped), then fallback models, chained with LangChain's ``with_fallbacks``. Each attempt
updates deployment health. A failure before the first streamed chunk falls through to the next
attempt; after the first chunk it reaches the caller. When every attempt fails the caller gets
one :class:`~core.errors.RoutingError` listing them all. The answer carries
``response_metadata["route"]`` (see :class:`~routers.record.RouteRecord`).

Example:
    >>> router = RouterRunnable.from_config()
    >>> reply = router.invoke({"messages": [("user", "Say hi")], "max_cost": 0.001})  # doctest: +SKIP
    >>> reply.response_metadata["route"]["reason"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from core.errors import Attempt, ProviderError, ProviderTimeout, RoutingError
from models.factory import build_chat_model
from models.registry import ModelEntry, Registry
from routers.balance import Balancer
from routers.config import RoutingConfig, load_routing_config
from routers.experiments import Experiments
from routers.health import HealthTracker
from routers.policies.ab import ABPolicy
from routers.policies.base import Policy
from routers.policies.context_window import ContextWindowPolicy
from routers.policies.cost import CostPolicy
from routers.policies.explicit import ExplicitPolicy
from routers.policies.modality import ModalityPolicy
from routers.policies.task import TaskPolicy
from routers.record import AttemptRecord, RouteRecord
from routers.request import RouteRequest

__all__ = ["Routed", "RouterRunnable"]

_MODEL_CACHE_SIZE = 256


@dataclass
class Routed:
    """A decided request: what was asked, why the choice, and the ordered (model, deployment) attempts."""

    request: RouteRequest
    record: RouteRecord
    attempts: list[tuple[ModelEntry, str]]
    deadline: float
    """``time.monotonic()`` after which no further attempt starts."""
    started: float = field(default_factory=time.monotonic)


class RouterRunnable(Runnable[Any, BaseMessage]):
    """Routes each request to a catalog model. Build with :meth:`from_config`."""

    def __init__(
        self,
        registry: Registry,
        config: RoutingConfig,
        classifier: Any = None,
        experiments: Experiments | None = None,
        health: HealthTracker | None = None,
    ):
        self.registry = registry
        self.config = config
        self.health = health or HealthTracker(config.health)
        self.balancer = Balancer(self.health, config.balance)
        self.experiments = experiments or Experiments(config.experiments)
        self.classifier = classifier
        self.policies: list[Policy] = [
            self._policy(name) for name in config.policies if name != "task" or classifier is not None
        ]
        self._models: OrderedDict[tuple[Any, ...], BaseChatModel] = OrderedDict()
        self._snapshot: tuple[int, list[ModelEntry]] | None = None
        self._names: dict[str, ModelEntry] = {}

    @classmethod
    def from_config(
        cls, registry: Registry | None = None, config: RoutingConfig | None = None, with_classifier: bool = True
    ) -> RouterRunnable:
        """The router for ``config/routing.yaml`` and the catalog (semantic classifier included)."""
        config = config or load_routing_config()
        classifier = None
        if with_classifier and "task" in config.policies:
            from routers.task import TaskClassifier

            classifier = TaskClassifier.from_config(config.task) if config.task else TaskClassifier.from_config()
        return cls(registry or Registry(), config, classifier)

    def _policy(self, name: str) -> Policy:
        factories = {
            "explicit": lambda: ExplicitPolicy(self.registry.entries),
            "modality": ModalityPolicy,
            "context_window": lambda: ContextWindowPolicy(self.config.cost.expected_output_tokens),
            "task": lambda: TaskPolicy(self.classifier),
            "ab": lambda: ABPolicy(self.experiments),
            "cost": lambda: CostPolicy(self.config.cost, keep=self.config.max_fallback_models + 1),
        }
        return factories[name]()

    # ---- deciding --------------------------------------------------------------------------
    def _available(self) -> list[ModelEntry]:
        """Available models, default first then by quality; recomputed only when the registry changes."""
        generation = self.registry.generation()
        if self._snapshot is None or self._snapshot[0] != generation:
            entries = sorted(
                self.registry.available(), key=lambda e: (e.spec.name != self.config.default_model, -e.spec.quality)
            )
            self._snapshot = (generation, entries)
            self._names = {e.spec.name: e for e in entries}
        return self._snapshot[1]

    def _by_name(self) -> dict[str, ModelEntry]:
        self._available()
        return self._names

    def decide(self, request: RouteRequest) -> tuple[list[ModelEntry], RouteRecord]:
        """Run the policies: ordered candidates and the record of why. Calls no model."""
        record = RouteRecord()
        candidates = self._available()
        if not candidates:
            raise RoutingError(
                "no model is available; run `make run` to install the local model or set a "
                "provider key such as OPENAI_API_KEY"
            )
        if request.allowed_models is not None:
            candidates = [e for e in candidates if e.spec.name in request.allowed_models]
            if not candidates:
                raise RoutingError(
                    f"none of the allowed models ({', '.join(request.allowed_models)}) is available", available=[]
                )
        for policy in self.policies:
            candidates = policy.apply(request, candidates, record)
        record.candidates = [e.spec.name for e in candidates[:10]]
        if len(candidates) > 10:
            record.candidates.append(f"+{len(candidates) - 10} more")
        return candidates, record

    def plan(
        self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord
    ) -> list[tuple[ModelEntry, str]]:
        """The ordered (model, deployment) attempts: chosen model, then its fallbacks."""
        by_name = self._by_name()
        chosen = candidates[0].spec.name
        others = [e.spec.name for e in candidates[1 : self.config.max_fallback_models + 1]]
        order = [
            chosen,
            *self.config.fallbacks.by_model.get(chosen, []),
            *self.config.fallbacks.by_task.get(record.task or "", []),
            *others,
            *self.config.fallbacks.default,
        ]
        if request.explicit_model:  # an explicit choice falls back only where the config says so
            order = [chosen, *self.config.fallbacks.by_model.get(chosen, [])]
        if request.allowed_models is not None:  # fallbacks too stay within a consumer key's models
            order = [name for name in order if name in request.allowed_models]
        attempts: list[tuple[ModelEntry, str]] = []
        seen: set[str] = set()
        for name in order:
            entry = by_name.get(name)
            if entry is None or name in seen:
                continue
            seen.add(name)
            online = [d for d in entry.spec.deployments if d.name not in entry.offline_deployments]
            usable, cooling = self.balancer.order(name, online)
            if cooling and name == chosen:
                record.note("health", f"{name}: deployment {', '.join(cooling)} in cooldown")
            attempts.extend((entry, d.name) for d in usable)
        if not attempts:
            raise RoutingError(
                f"every deployment of {chosen} and its fallbacks is cooling down or offline", available=list(by_name)
            )
        return attempts

    # ---- dispatching -----------------------------------------------------------------------
    def _model(self, entry: ModelEntry, deployment: str, params: dict[str, Any]) -> BaseChatModel:
        key = (entry.spec.fingerprint(), deployment, json.dumps(params, sort_keys=True))
        model = self._models.get(key)
        if model is None:
            model = build_chat_model(entry.spec, deployment, params)
            self._models[key] = model
            if len(self._models) > _MODEL_CACHE_SIZE:
                self._models.popitem(last=False)
        return model

    def finish(
        self, record: RouteRecord, started: float, usage: dict[str, Any], cost: float, error: str = ""
    ) -> dict[str, Any]:
        """The route record as a dict with a fresh ``request_id``; records the A/B outcome if any."""
        route = record.as_dict()
        route["request_id"] = record_id = uuid.uuid4().hex
        if record.experiment and record.arm:
            self.experiments.record(
                record_id,
                record.experiment,
                record.arm,
                time.monotonic() - started,
                usage.get("input_tokens", 0),
                usage.get("output_tokens", 0),
                cost,
                error,
            )
        return route

    def route(self, value: Any, config: RunnableConfig | None = None) -> Routed:
        """Decide and plan ``value`` without calling a model (the ``*_routed`` methods dispatch it)."""
        request = RouteRequest.parse(value, ensure_config(config).get("configurable"))
        candidates, record = self.decide(request)
        attempts = self.plan(request, candidates, record)
        deadline = time.monotonic() + (request.timeout or self.config.timeout_seconds)
        return Routed(request, record, attempts, deadline)

    def _chain(self, routed: Routed) -> Runnable:
        runnables = [
            _Attempt(self, routed.record, entry, dep, routed.request.params_for(entry.spec), routed.deadline)
            for entry, dep in routed.attempts
        ]
        if len(runnables) == 1:
            return runnables[0]
        return runnables[0].with_fallbacks(runnables[1:], exceptions_to_handle=(ProviderError,))

    def _finish(self, routed: Routed, message: BaseMessage | None, error: str = "") -> dict[str, Any]:
        usage = (getattr(message, "usage_metadata", None) or {}) if message is not None else {}
        cost = message.response_metadata.get("cost_usd", 0.0) if message is not None else 0.0
        return self.finish(routed.record, routed.started, usage, cost, error)

    def _failed(self, routed: Routed, exc: ProviderError) -> RoutingError:
        self._finish(routed, None, type(exc).__name__)
        attempts = [Attempt(a.model, a.deployment, a.error) for a in routed.record.attempts]
        return RoutingError(f"every option failed ({routed.record.reason})", attempts=attempts)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        return self.invoke_routed(self.route(input, config), config)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        return await self.ainvoke_routed(self.route(input, config), config)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        yield from self.stream_routed(self.route(input, config), config)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        async for chunk in self.astream_routed(self.route(input, config), config):
            yield chunk

    # ---- dispatching a routed request ------------------------------------------------------
    def invoke_routed(self, routed: Routed, config: RunnableConfig | None = None) -> BaseMessage:
        """Call the planned attempts in order; the answer carries ``response_metadata["route"]``."""
        try:
            message = self._chain(routed).invoke(routed.request.messages, config)
        except ProviderError as exc:
            raise self._failed(routed, exc) from exc
        message.response_metadata["route"] = self._finish(routed, message)
        return message

    async def ainvoke_routed(self, routed: Routed, config: RunnableConfig | None = None) -> BaseMessage:
        """Async :meth:`invoke_routed`."""
        try:
            message = await self._chain(routed).ainvoke(routed.request.messages, config)
        except ProviderError as exc:
            raise self._failed(routed, exc) from exc
        message.response_metadata["route"] = self._finish(routed, message)
        return message

    def stream_routed(self, routed: Routed, config: RunnableConfig | None = None) -> Iterator[AIMessageChunk]:
        """Stream the first attempt that yields a chunk; the route comes in a final empty chunk."""
        total: AIMessageChunk | None = None
        try:
            for chunk in self._chain(routed).stream(routed.request.messages, config):
                total = chunk if total is None else total + chunk
                yield chunk
        except ProviderError as exc:
            if total is None:
                raise self._failed(routed, exc) from exc
            raise
        yield AIMessageChunk(content="", response_metadata={"route": self._finish(routed, total)})

    async def astream_routed(
        self, routed: Routed, config: RunnableConfig | None = None
    ) -> AsyncIterator[AIMessageChunk]:
        """Async :meth:`stream_routed`."""
        total: AIMessageChunk | None = None
        try:
            async for chunk in self._chain(routed).astream(routed.request.messages, config):
                total = chunk if total is None else total + chunk
                yield chunk
        except ProviderError as exc:
            if total is None:
                raise self._failed(routed, exc) from exc
            raise
        yield AIMessageChunk(content="", response_metadata={"route": self._finish(routed, total)})


class _Attempt(Runnable[list[BaseMessage], BaseMessage]):
    """One (model, deployment) try: health accounting and the attempt's line in the record."""

    def __init__(
        self,
        router: RouterRunnable,
        record: RouteRecord,
        entry: ModelEntry,
        deployment: str,
        params: dict[str, Any],
        deadline: float,
    ):
        self.router, self.record, self.entry, self.deployment = router, record, entry, deployment
        self.params, self.deadline = params, deadline
        self.name = f"{entry.spec.name}/{deployment}"

    def _begin(self) -> tuple[BaseChatModel, AttemptRecord, float]:
        model_name = self.entry.spec.name
        attempt = AttemptRecord(model_name, self.deployment)
        self.record.attempts.append(attempt)
        if time.monotonic() > self.deadline:
            attempt.error = "request timeout budget exhausted"
            raise ProviderTimeout(attempt.error, provider="router", model=model_name, deployment=self.deployment)
        if not self.router.health.acquire(model_name, self.deployment):
            attempt.error = "in cooldown"
            raise ProviderError("in cooldown", model=model_name, deployment=self.deployment)
        try:
            model = self.router._model(self.entry, self.deployment, self.params)
        except Exception:
            self.router.health.release(model_name, self.deployment)
            raise
        return model, attempt, time.monotonic()

    def _ok(self, attempt: AttemptRecord, started: float) -> None:
        attempt.ok = True
        self.record.model, self.record.deployment = attempt.model, attempt.deployment
        self.router.health.success(attempt.model, attempt.deployment, time.monotonic() - started)

    def _error(self, attempt: AttemptRecord, exc: BaseException) -> None:
        if isinstance(exc, ProviderError):
            attempt.error = f"{type(exc).__name__}: {exc.reason}"
            self.router.health.failure(
                attempt.model, attempt.deployment, attempt.error, exc.counts_against_health, exc.retry_after
            )
        else:
            attempt.error = type(exc).__name__
            self.router.health.release(attempt.model, attempt.deployment)

    def invoke(self, input: list[BaseMessage], config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        model, attempt, started = self._begin()
        try:
            message = model.invoke(input, config)
        except BaseException as exc:
            self._error(attempt, exc)
            raise
        self._ok(attempt, started)
        return message

    async def ainvoke(
        self, input: list[BaseMessage], config: RunnableConfig | None = None, **kwargs: Any
    ) -> BaseMessage:
        model, attempt, started = self._begin()
        try:
            message = await model.ainvoke(input, config)
        except BaseException as exc:
            self._error(attempt, exc)
            raise
        self._ok(attempt, started)
        return message

    def stream(
        self, input: list[BaseMessage], config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        model, attempt, started = self._begin()
        try:
            yield from model.stream(input, config)
        except BaseException as exc:
            self._error(attempt, exc)
            raise
        self._ok(attempt, started)

    async def astream(
        self, input: list[BaseMessage], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        model, attempt, started = self._begin()
        try:
            async for chunk in model.astream(input, config):
                yield chunk
        except BaseException as exc:
            self._error(attempt, exc)
            raise
        self._ok(attempt, started)
