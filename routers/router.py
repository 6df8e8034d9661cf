"""The RouterRunnable: the one runnable every surface calls instead of a fixed model.

It *decides* with the configured policies (explicit → modality → context window → task → A/B
→ cost), then *dispatches* through the one attempt engine (:mod:`routers.dispatch`) over the
LangChain transport (:mod:`routers.chat_transport`): the chosen model's deployments (ordered by
the balancer, cooled-down ones skipped), then fallback models. Each attempt updates deployment
health. A failure before the first streamed chunk falls through to the next
attempt; after the first chunk it reaches the caller. When every attempt fails the caller gets
one :class:`~core.errors.RoutingError` listing them all. The answer carries
``response_metadata["route"]`` (see :class:`~routers.record.RouteRecord`).

Example:
    >>> router = RouterRunnable.from_config()
    >>> reply = router.invoke({"messages": [("user", "Say hi")], "max_cost": 0.001})  # doctest: +SKIP
    >>> reply.response_metadata["route"]["reason"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.runnables.config import ensure_config

from core.errors import ParameterError, RoutingError
from models.registry import ModelEntry, Registry
from routers.balance import Balancer
from routers.chat_model import RouterChatModel
from routers.chat_transport import ChatModelTransport
from routers.config import RoutingConfig, load_routing_config
from routers.dispatch import AttemptEngine, Routed
from routers.experiments import Experiments
from routers.health import HealthTracker
from routers.policies import POLICIES, Policy
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["Routed", "RouterRunnable"]

_MODEL_CACHE_SIZE = 256


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
        retention = config.experiment_retention_days
        self.experiments = experiments or Experiments(config.experiments, retention_days=retention)
        self.classifier = classifier
        self.policies: list[Policy] = [
            self._policy(name) for name in config.policies if name != "task" or classifier is not None
        ]
        self.engine = AttemptEngine(self.health, self.experiments)
        """The one attempt engine (deadline, health, record, fallbacks) shared with the gateway's forwarder."""
        self.transport = ChatModelTransport(_MODEL_CACHE_SIZE)
        """Calls a catalog entry's LangChain chat model (LRU-cached per spec, deployment and parameters)."""
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
        return POLICIES[name](self)

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
        needs = request.needs
        if needs:
            candidates = self._capable(request, needs, candidates, record)
        for policy in self.policies:
            candidates = policy.apply(request, candidates, record)
            if not candidates:  # a policy that empties the list says why, not an IndexError later
                raise RoutingError(_nothing_left(request, policy.name), available=[])
        record.candidates = [e.spec.name for e in candidates[:10]]
        if len(candidates) > 10:
            record.candidates.append(f"+{len(candidates) - 10} more")
        return candidates, record

    def _capable(
        self, request: RouteRequest, needs: dict[str, str], candidates: list[ModelEntry], record: RouteRecord
    ) -> list[ModelEntry]:
        """The candidates that can honour every capability the request's options need, or a
        ``ParameterError`` naming the option and the capability when none can."""
        capable = [e for e in candidates if all(e.spec.can(name) for name in needs)]
        named = request.explicit_model
        if named is not None and named not in {e.spec.name for e in capable}:
            entry = next((e for e in candidates if e.spec.name == named), None)
            if entry is not None:  # an unknown name is the explicit policy's error
                missing = next(name for name in needs if not entry.spec.can(name))
                others = [e.spec.name for e in capable]
                raise ParameterError(
                    f"model '{named}' ({entry.spec.provider}) cannot honour '{needs[missing]}': it lacks the "
                    f"'{missing}' capability; "
                    + (f"models that have it: {', '.join(others)}" if others else "no available model has it"),
                    param=needs[missing],
                )
        if not capable:
            wanted = ", ".join(f"'{field}' ({name})" for name, field in needs.items())
            raise ParameterError(
                f"no available model can honour {wanted}; leave the field out or make a capable model available",
                param=next(iter(needs.values())),
            )
        names = [e.spec.name for e in capable]
        shown = ", ".join(names[:5]) + (f", +{len(names) - 5} more" if len(names) > 5 else "")
        record.note("capabilities", f"needs {', '.join(needs)} → {len(names)} capable ({shown})")
        return capable

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
        needs = request.needs
        attempts: list[tuple[ModelEntry, str]] = []
        seen: set[str] = set()
        for name in order:
            entry = by_name.get(name)
            if entry is None or name in seen:
                continue
            if needs and not all(entry.spec.can(capability) for capability in needs):
                continue  # a fallback must honour the request as much as the chosen model
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
    def finish(
        self, record: RouteRecord, started: float, usage: dict[str, Any], cost: float, error: str = ""
    ) -> dict[str, Any]:
        """The route record as a dict with a fresh ``request_id``; records the A/B outcome if any."""
        return self.engine.finish(record, started, usage, cost, error)

    def route(self, value: Any, config: RunnableConfig | None = None) -> Routed:
        """Decide and plan ``value`` without calling a model (the ``*_routed`` methods dispatch it)."""
        return self._route(RouteRequest.parse(value, ensure_config(config).get("configurable")))

    async def aroute(self, value: Any, config: RunnableConfig | None = None) -> Routed:
        """:meth:`route`, with a semantic task classification (an embedding) run off the event loop.

        Rules-only decisions, named models and ``task`` hints are decided inline (microseconds);
        only a prompt that needs the embedding model is sent to a worker thread.
        """
        request = RouteRequest.parse(value, ensure_config(config).get("configurable"))
        if self._needs_embedding(request):
            return await asyncio.to_thread(self._route, request)
        return self._route(request)

    def _route(self, request: RouteRequest) -> Routed:
        candidates, record = self.decide(request)
        attempts = self.plan(request, candidates, record)
        deadline = time.monotonic() + (request.timeout or self.config.timeout_seconds)
        return Routed(request, record, attempts, deadline)

    def _needs_embedding(self, request: RouteRequest) -> bool:
        if self.classifier is None or request.task or request.explicit_model:
            return False
        return not self.classifier.rules_only and self.classifier.by_rules(request.text) is None

    def _route_dict(self, routed: Routed, message: BaseMessage | None) -> dict[str, Any]:
        if message is None:
            return self.finish(routed.record, routed.started, {}, 0.0)
        usage = getattr(message, "usage_metadata", None) or {}
        return self.finish(routed.record, routed.started, usage, message.response_metadata.get("cost_usd", 0.0))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        return self.invoke_routed(self.route(input, config), config)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> BaseMessage:
        return await self.ainvoke_routed(await self.aroute(input, config), config)

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[AIMessageChunk]:
        yield from self.stream_routed(self.route(input, config), config)

    async def astream(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        async for chunk in self.astream_routed(await self.aroute(input, config), config):
            yield chunk

    # ---- the router as a LangChain chat model -------------------------------------------------------
    def as_chat_model(self, **fields: Any) -> RouterChatModel:
        """This router as a ``BaseChatModel`` (:class:`~routers.chat_model.RouterChatModel`); ``fields``
        are its routing hints and parameters (``model``, ``max_cost``, ``temperature``, ...)."""
        return RouterChatModel(router=self, **fields)

    def bind_tools(self, tools: Any, **kwargs: Any) -> Runnable[Any, BaseMessage]:
        """:meth:`as_chat_model` with ``tools`` bound (the router picks only tool-capable models)."""
        return self.as_chat_model().bind_tools(tools, **kwargs)

    def with_structured_output(self, schema: Any = None, **kwargs: Any) -> Runnable[Any, Any]:
        """:meth:`as_chat_model` answering parsed into ``schema`` (see ``RouterChatModel.with_structured_output``)."""
        return self.as_chat_model().with_structured_output(schema, **kwargs)

    # ---- dispatching a routed request (the attempt engine over the LangChain transport) ----------
    def invoke_routed(self, routed: Routed, config: RunnableConfig | None = None) -> BaseMessage:
        """Call the planned attempts in order; the answer carries ``response_metadata["route"]``."""
        message: BaseMessage = self.engine.invoke(routed, self.transport, (routed.request.messages, config))
        message.response_metadata["route"] = self._route_dict(routed, message)
        return message

    async def ainvoke_routed(self, routed: Routed, config: RunnableConfig | None = None) -> BaseMessage:
        """Async :meth:`invoke_routed`."""
        message: BaseMessage = await self.engine.ainvoke(routed, self.transport, (routed.request.messages, config))
        message.response_metadata["route"] = self._route_dict(routed, message)
        return message

    def stream_routed(self, routed: Routed, config: RunnableConfig | None = None) -> Iterator[AIMessageChunk]:
        """Stream the first attempt that yields a chunk; the route comes in a final empty chunk."""
        total: AIMessageChunk | None = None
        for chunk in self.engine.stream(routed, self.transport, (routed.request.messages, config)):
            total = chunk if total is None else total + chunk
            yield chunk
        yield AIMessageChunk(content="", response_metadata={"route": self._route_dict(routed, total)})

    async def astream_routed(
        self, routed: Routed, config: RunnableConfig | None = None
    ) -> AsyncIterator[AIMessageChunk]:
        """Async :meth:`stream_routed`."""
        total: AIMessageChunk | None = None
        async for chunk in self.engine.astream(routed, self.transport, (routed.request.messages, config)):
            total = chunk if total is None else total + chunk
            yield chunk
        yield AIMessageChunk(content="", response_metadata={"route": self._route_dict(routed, total)})


def _nothing_left(request: RouteRequest, policy: str) -> str:
    if policy == "modality" and request.explicit_model and not request.image_generation:
        return (
            f"model '{request.explicit_model}' does not answer in text, so it cannot serve a chat completion "
            "(an image model is called through /v1/images/generations)"
        )
    named = f"model '{request.explicit_model}'" if request.explicit_model else "no available model"
    return f"{named} cannot serve this request: the {policy} policy left no candidate"
