"""The one attempt engine: try a decided request's (model, deployment) attempts in order.

Whatever carries the call — a LangChain chat model (:class:`routers.chat_transport.ChatModelTransport`)
or raw OpenAI-HTTP forwarding (:class:`models.adapters.openai_http.OpenAIHTTPTransport`) — the
bookkeeping lives here once: the request's deadline, the deployment's health (acquire, success,
failure, release), the attempt's line in the route record, which failures move on to the next
attempt, and the one :class:`~core.errors.RoutingError` when every attempt failed. A transport
only makes the call and maps its own errors to :class:`~core.errors.ProviderError` (the way an
httpx transport maps its backend's errors).

Rules, the same for both transports:

* an attempt past the request's deadline, or on a deployment in cooldown, is recorded and skipped;
* a ``ProviderError`` before the first streamed chunk is recorded, counted against the
  deployment's health (when the error says so) and the next attempt runs; after the first chunk
  it reaches the caller;
* any other exception (a bad parameter, a bug) and a caller going away release the deployment
  without counting against it and propagate;
* every attempt failing raises one ``RoutingError`` listing each attempt and its error.

Example:
    >>> from routers.health import HealthTracker
    >>> engine = AttemptEngine(HealthTracker())
    >>> engine.health.cooling("m", "d")
    False
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

from core.errors import Attempt, ProviderError, RoutingError
from models.registry import ModelEntry
from models.target import Target
from routers.experiments import Experiments
from routers.health import HealthTracker
from routers.record import AttemptRecord, RouteRecord
from routers.request import RouteRequest

__all__ = ["AsyncTransport", "AttemptEngine", "AttemptScope", "Routed", "SyncTransport", "Target"]


@dataclass
class Routed:
    """A decided request: what was asked, why the choice, and the ordered (model, deployment) attempts."""

    request: RouteRequest
    record: RouteRecord
    attempts: list[tuple[ModelEntry, str]]
    deadline: float
    """``time.monotonic()`` after which no further attempt starts."""
    started: float = field(default_factory=time.monotonic)


class AsyncTransport(Protocol):
    """Carries an attempt's call asynchronously; raises only ``ProviderError`` for provider failures."""

    async def ainvoke(self, target: Target, payload: Any) -> Any: ...

    def astream(self, target: Target, payload: Any) -> AsyncIterator[Any]: ...


class SyncTransport(Protocol):
    """Carries an attempt's call synchronously (the LangChain transport has both forms)."""

    def invoke(self, target: Target, payload: Any) -> Any: ...

    def stream(self, target: Target, payload: Any) -> Iterator[Any]: ...


class AttemptScope:
    """One (model, deployment) try, used as a context manager around the transport's call.

    On a clean exit the attempt succeeded. A ``ProviderError`` is recorded and counted, and is
    swallowed (so the engine moves on) unless a chunk was already delivered (:attr:`streaming`).
    Anything else releases the deployment and propagates.
    """

    def __init__(self, engine: AttemptEngine, routed: Routed, entry: ModelEntry, deployment: str):
        self.engine, self.routed = engine, routed
        self.record = AttemptRecord(entry.spec.name, deployment)
        request = routed.request
        self.target = Target(entry, deployment, request.params_for(entry.spec), routed.deadline, request.options)
        self.streaming = False
        """Set once the first chunk went to the caller: a failure after it can no longer fall back."""
        self.error: ProviderError | None = None
        self._started = 0.0

    @property
    def ok(self) -> bool:
        return self.record.ok

    def begin(self) -> bool:
        """Record the attempt; False (with the reason recorded) when it must be skipped."""
        self.routed.record.attempts.append(self.record)
        if time.monotonic() > self.routed.deadline:
            self.record.error = "request timeout budget exhausted"
            return False
        if not self.engine.health.acquire(self.record.model, self.record.deployment):
            self.record.error = "in cooldown"
            return False
        self._started = time.monotonic()
        return True

    def answering(self) -> bool:
        """The first chunk is on its way to the caller: this attempt's model is the one answering."""
        self.routed.record.model, self.routed.record.deployment = self.record.model, self.record.deployment
        return True

    def __enter__(self) -> AttemptScope:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        model, deployment, health = self.record.model, self.record.deployment, self.engine.health
        if exc is None:
            self.record.ok = True
            self.routed.record.model, self.routed.record.deployment = model, deployment
            health.success(model, deployment, time.monotonic() - self._started)
            return False
        if isinstance(exc, ProviderError):
            self.error = exc
            self.record.error = f"{type(exc).__name__}: {exc.reason}"
            health.failure(model, deployment, self.record.error, exc.counts_against_health, exc.retry_after)
            return not self.streaming
        self.record.error = self.record.error or type(exc).__name__
        health.release(model, deployment)
        return False


class AttemptEngine:
    """Runs a :class:`Routed` request's attempts over a transport; keeps health and the record.

    Args:
        health: the deployments' health (shared with the balancer that ordered the attempts).
        experiments: where A/B outcomes are recorded by :meth:`finish`.
    """

    def __init__(self, health: HealthTracker, experiments: Experiments | None = None):
        self.health, self.experiments = health, experiments

    def attempts(self, routed: Routed) -> Iterator[AttemptScope]:
        """The attempts that may start, in order (skipped ones are recorded with their reason)."""
        for entry, deployment in routed.attempts:
            scope = AttemptScope(self, routed, entry, deployment)
            if scope.begin():
                yield scope

    # ---- the four call shapes ------------------------------------------------------------------
    def invoke(self, routed: Routed, transport: SyncTransport, payload: Any) -> Any:
        """The first attempt's answer that succeeds."""
        for scope in self.attempts(routed):
            with scope:
                answer = transport.invoke(scope.target, payload)
            if scope.ok:
                return answer
        raise self.exhausted(routed)

    async def ainvoke(self, routed: Routed, transport: AsyncTransport, payload: Any) -> Any:
        """Async :meth:`invoke`."""
        for scope in self.attempts(routed):
            with scope:
                answer = await transport.ainvoke(scope.target, payload)
            if scope.ok:
                return answer
        raise self.exhausted(routed)

    def stream(self, routed: Routed, transport: SyncTransport, payload: Any) -> Iterator[Any]:
        """The chunks of the first attempt that yields one."""
        for scope in self.attempts(routed):
            with scope:
                for chunk in transport.stream(scope.target, payload):
                    scope.streaming = scope.streaming or scope.answering()
                    yield chunk
            if scope.ok:
                return
        raise self.exhausted(routed)

    async def astream(self, routed: Routed, transport: AsyncTransport, payload: Any) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        for scope in self.attempts(routed):
            with scope:
                async for chunk in transport.astream(scope.target, payload):
                    scope.streaming = scope.streaming or scope.answering()
                    yield chunk
            if scope.ok:
                return
        raise self.exhausted(routed)

    # ---- the outcome ---------------------------------------------------------------------------
    def finish(
        self,
        record: RouteRecord,
        started: float,
        usage: dict[str, Any] | None = None,
        cost: float = 0.0,
        error: str = "",
    ) -> dict[str, Any]:
        """The route record as a dict with a fresh ``request_id``; records the A/B outcome if any.

        Args:
            record: the decided request's record (``Routed.record``).
            started: ``time.monotonic()`` when the request was decided (``Routed.started``).
            usage: ``input_tokens`` / ``output_tokens`` of the answer.
            cost: the answer's USD cost.
            error: the error class when the request failed.
        """
        usage = usage or {}
        route = record.as_dict()
        route["request_id"] = request_id = uuid.uuid4().hex
        if self.experiments is not None and record.experiment and record.arm:
            self.experiments.record(
                request_id,
                record.experiment,
                record.arm,
                time.monotonic() - started,
                usage.get("input_tokens", 0),
                usage.get("output_tokens", 0),
                cost,
                error,
            )
        return route

    def exhausted(self, routed: Routed) -> RoutingError:
        """Every attempt failed or was skipped: the one error that lists them (A/B outcome recorded)."""
        self.finish(routed.record, routed.started, error="RoutingError")
        attempts = [Attempt(a.model, a.deployment, a.error) for a in routed.record.attempts]
        return RoutingError(f"every option failed ({routed.record.reason})", attempts=attempts)
