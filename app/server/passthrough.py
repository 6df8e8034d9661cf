"""The gateway's fast path: forward OpenAI-compatible requests over one pooled HTTP session.

The router still does everything that makes a choice — policies, the balancer's deployment
order, cooldowns, the fallback order, A/B assignment, the route record. What this module skips
is the *call*: when every planned attempt is an ``openai``-protocol deployment (a hosted
OpenAI-compatible API, vLLM, llama-server), the request body is forwarded as JSON over a shared
``aiohttp`` session instead of going through ``ChatOpenAI`` and the ``openai`` SDK. That
removes most of the gateway's CPU per request (``bench/gateway_overhead.py`` measures both);
other providers, and every non-gateway surface, keep using the LangChain models.

Health, timeouts and error classes match the LangChain path: failures before the first byte of
an answer fall through to the next attempt, HTTP statuses become the same ``ProviderError``
subclasses (``models.provider_errors.error_for_status``), and cooldowns see every outcome.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from core.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderResponseError,
    ProviderTimeout,
    RoutingError,
)
from models.params import canonical_values, provider_names
from models.provider_errors import error_for_status
from models.registry import ModelEntry
from models.spec import Deployment, ModelSpec
from routers.record import AttemptRecord
from routers.router import Routed, RouterRunnable

__all__ = ["Forwarded", "Passthrough", "forwardable"]

PROTOCOL = "openai"
"""The provider whose deployments speak the OpenAI HTTP API and can be forwarded to."""


def forwardable(routed: Routed) -> bool:
    """Whether every planned attempt can take the fast path."""
    return all(entry.spec.provider == PROTOCOL for entry, _ in routed.attempts)


@dataclass
class Forwarded:
    """What one forwarded call produced: the model and deployment that answered, usage, cost."""

    entry: ModelEntry
    deployment: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def charge(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self.input_tokens = int(usage.get("prompt_tokens") or 0)
            self.output_tokens = int(usage.get("completion_tokens") or 0)
            self.cost_usd = self.entry.spec.cost.of(self.input_tokens, self.output_tokens)


class Passthrough:
    """Forwards chat completions for a :class:`~routers.router.RouterRunnable`'s decisions.

    Args:
        router: decides, plans and keeps deployment health.

    Example:
        >>> routed = router.route({"messages": [...], "model": "auto"})      # doctest: +SKIP
        >>> payload, done = await passthrough.complete(routed, body)         # doctest: +SKIP
    """

    def __init__(self, router: RouterRunnable):
        self.router = router
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[tuple[int, str], tuple[ModelSpec, str, dict[str, str], Deployment]] = {}

    def finish(self, routed: Routed, done: Forwarded | None, error: str = "") -> dict[str, Any]:
        """The route record as a dict (A/B statistics recorded, like the LangChain path)."""
        usage = {"input_tokens": done.input_tokens, "output_tokens": done.output_tokens} if done else {}
        return self.router.finish(routed.record, routed.started, usage, done.cost_usd if done else 0.0, error)

    # ---- calling ---------------------------------------------------------------------------
    async def complete(self, routed: Routed, body: dict[str, Any]) -> tuple[dict[str, Any], Forwarded]:
        """The upstream's JSON answer and who gave it; every attempt failing raises ``RoutingError``."""
        for entry, deployment in routed.attempts:
            attempt = self._begin(routed, entry, deployment)
            if attempt is None:
                continue
            started = time.monotonic()
            url, headers, payload, timeout = self._request(routed, attempt, entry, deployment, body, stream=False)
            try:
                async with self._client().post(url, data=payload, headers=headers, timeout=timeout) as response:
                    raw = await response.read()
                    if response.status >= 400:
                        raise _status_error(response, raw, entry, deployment)
                answer = orjson.loads(raw)
                if not isinstance(answer, dict) or not answer.get("choices"):
                    raise ProviderResponseError(
                        "the answer has no choices", provider=PROTOCOL, model=entry.spec.name, deployment=deployment
                    )
            except (asyncio.CancelledError, KeyboardInterrupt):  # the caller went away: not the deployment's fault
                self.router.health.release(entry.spec.name, deployment)
                raise
            except Exception as exc:
                self._failed(attempt, _translate(exc, entry, deployment))
                continue
            done = Forwarded(entry, deployment)
            done.charge(answer.get("usage"))
            self._succeeded(routed, attempt, started)
            return answer, done
        raise self._exhausted(routed)

    async def stream(self, routed: Routed, body: dict[str, Any]) -> AsyncIterator[tuple[dict[str, Any], Forwarded]]:
        """Yield the upstream's parsed ``chat.completion.chunk`` events, usage chunk included.

        Until the first chunk arrives a failing attempt falls through to the next; after it,
        an error ends the stream (raised as the ``ProviderError``).
        """
        for entry, deployment in routed.attempts:
            attempt = self._begin(routed, entry, deployment)
            if attempt is None:
                continue
            started, done, first = time.monotonic(), Forwarded(entry, deployment), True
            url, headers, payload, timeout = self._request(routed, attempt, entry, deployment, body, stream=True)
            try:
                async with self._client().post(url, data=payload, headers=headers, timeout=timeout) as response:
                    if response.status >= 400:
                        raise _status_error(response, await response.read(), entry, deployment)
                    async for line in response.content:
                        if not line.startswith(b"data:"):
                            continue
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            break
                        chunk = orjson.loads(data)
                        if chunk.get("usage"):
                            done.charge(chunk["usage"])
                        first = False
                        yield chunk, done
                if first:
                    raise ProviderResponseError(
                        "the stream ended before any chunk",
                        provider=PROTOCOL,
                        model=entry.spec.name,
                        deployment=deployment,
                    )
            except (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt):  # the client went away
                self.router.health.release(entry.spec.name, deployment)
                raise
            except Exception as exc:
                error = _translate(exc, entry, deployment)
                self._failed(attempt, error)
                if first:
                    continue
                if error is exc:
                    raise
                raise error from exc
            self._succeeded(routed, attempt, started)
            return
        raise self._exhausted(routed)

    async def close(self) -> None:
        """Close the pooled session (at application shutdown)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    # ---- pieces ----------------------------------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _target(self, entry: ModelEntry, deployment: str) -> tuple[str, dict[str, str], Deployment]:
        # keyed by the spec object: the registry hands out the same object until the entry changes
        spec = entry.spec
        cached = self._targets.get((id(spec), deployment))
        if cached is None or cached[0] is not spec:
            dep = next(d for d in spec.deployments if d.name == deployment)
            headers = {"content-type": "application/json"}
            api_key = os.environ.get(dep.api_key_env, "") if dep.api_key_env else ""
            if api_key:
                headers["authorization"] = f"Bearer {api_key}"
            cached = (spec, f"{str(dep.base_url).rstrip('/')}/chat/completions", headers, dep)
            if len(self._targets) > 1024:
                self._targets.clear()
            self._targets[(id(spec), deployment)] = cached
        return cached[1], cached[2], cached[3]

    def _request(
        self,
        routed: Routed,
        attempt: AttemptRecord,
        entry: ModelEntry,
        deployment: str,
        body: dict[str, Any],
        stream: bool,
    ) -> tuple[str, dict[str, str], bytes, aiohttp.ClientTimeout]:
        url, headers, dep = self._target(entry, deployment)
        spec = entry.spec
        try:  # a parameter this model refuses is the caller's error (400), as on the LangChain path
            params = provider_names(spec, canonical_values(spec, routed.request.params_for(spec)))
        except Exception as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
            self.router.health.release(entry.spec.name, deployment)
            raise
        upstream = {**body, **params}
        upstream["model"] = dep.model_id or spec.name
        if stream:
            upstream["stream"] = True
            upstream["stream_options"] = {"include_usage": True}
        remaining = routed.deadline - time.monotonic()
        timeout = aiohttp.ClientTimeout(total=max(0.001, min(dep.timeout or remaining, remaining)))
        return url, headers, orjson.dumps(upstream), timeout

    def _begin(self, routed: Routed, entry: ModelEntry, deployment: str) -> AttemptRecord | None:
        attempt = AttemptRecord(entry.spec.name, deployment)
        routed.record.attempts.append(attempt)
        if time.monotonic() > routed.deadline:
            attempt.error = "request timeout budget exhausted"
            return None
        if not self.router.health.acquire(entry.spec.name, deployment):
            attempt.error = "in cooldown"
            return None
        return attempt

    def _succeeded(self, routed: Routed, attempt: AttemptRecord, started: float) -> None:
        attempt.ok = True
        routed.record.model, routed.record.deployment = attempt.model, attempt.deployment
        self.router.health.success(attempt.model, attempt.deployment, time.monotonic() - started)

    def _failed(self, attempt: AttemptRecord, error: ProviderError) -> None:
        attempt.error = f"{type(error).__name__}: {error.reason}"
        self.router.health.failure(
            attempt.model, attempt.deployment, attempt.error, error.counts_against_health, error.retry_after
        )

    def _exhausted(self, routed: Routed) -> RoutingError:
        from core.errors import Attempt

        self.finish(routed, None, "RoutingError")
        attempts = [Attempt(a.model, a.deployment, a.error) for a in routed.record.attempts]
        return RoutingError(f"every option failed ({routed.record.reason})", attempts=attempts)


def _status_error(response: aiohttp.ClientResponse, raw: bytes, entry: ModelEntry, deployment: str) -> ProviderError:
    try:
        message = orjson.loads(raw).get("error", {}).get("message", "")
    except (orjson.JSONDecodeError, AttributeError):
        message = raw[:200].decode(errors="replace")
    return error_for_status(
        response.status, message, response.headers, provider=PROTOCOL, model=entry.spec.name, deployment=deployment
    )


def _translate(exc: BaseException, entry: ModelEntry, deployment: str) -> ProviderError:
    ctx = {"provider": PROTOCOL, "model": entry.spec.name, "deployment": deployment}
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError, aiohttp.ServerTimeoutError)):
        return ProviderTimeout("timed out", **ctx)
    if isinstance(exc, (aiohttp.ClientError, ConnectionError)):
        return ProviderConnectionError(f"connection failed: {type(exc).__name__}", **ctx)
    if isinstance(exc, orjson.JSONDecodeError):
        return ProviderResponseError("the answer is not JSON", **ctx)
    return ProviderError(f"{type(exc).__name__}: {exc}", **ctx)
