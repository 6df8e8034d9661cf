"""Raw OpenAI-HTTP forwarding: a transport for the attempt engine (:mod:`routers.dispatch`).

The gateway forwards a Chat Completions body as JSON over one pooled ``aiohttp`` session to an
``openai``-protocol deployment (a hosted OpenAI-compatible API, vLLM, llama-server) instead of
going through ``ChatOpenAI`` and the ``openai`` SDK — the same call, without most of its CPU
(``bench/gateway_overhead.py`` measures both). The model's own id and its validated parameters
(provider names) are filled in; every failure is mapped to the ``ProviderError`` tree by
:func:`models.provider_errors.translate`, exactly as the LangChain adapters do, so the engine
sees one error vocabulary whichever transport ran.

Timeouts: a non-streamed call gets the deployment timeout (within the request's budget) as its
total; a stream gets it as the connect and *read* timeout — the longest silence allowed between
two pieces — so a long answer that keeps coming is never cut.

Example:
    >>> transport = OpenAIHTTPTransport()
    >>> transport.forwards("openai"), transport.forwards("huggingface_local")
    (True, False)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from core.errors import ProviderError, ProviderResponseError
from models.params import canonical_values, provider_names
from models.provider_errors import http_status_error, translate
from models.providers import PROVIDERS
from models.spec import Deployment, ModelSpec
from models.target import Target

__all__ = ["OpenAIHTTPTransport"]


class OpenAIHTTPTransport:
    """Forwards chat completions to OpenAI-protocol deployments over one pooled session."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._targets: dict[tuple[int, str], tuple[ModelSpec, str, dict[str, str], Deployment]] = {}

    @staticmethod
    def forwards(provider: str) -> bool:
        """Whether a deployment of ``provider`` can be forwarded to (it speaks OpenAI's HTTP API)."""
        info = PROVIDERS.get(provider)
        return info is not None and info.openai_http

    async def ainvoke(self, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        """The upstream's ``chat.completion`` JSON."""
        url, headers, payload, timeout = self._request(target, body, stream=False)
        try:
            async with self._client().post(url, data=payload, headers=headers, timeout=timeout) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise http_status_error(response.status, raw, response.headers, **_where(target))
            answer = orjson.loads(raw)
            if not isinstance(answer, dict) or not answer.get("choices"):
                raise ProviderResponseError("the answer has no choices", **_where(target))
            return answer
        except ProviderError:
            raise
        except Exception as exc:
            raise translate(exc, **_where(target)) from exc

    async def astream(self, target: Target, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """The upstream's parsed ``chat.completion.chunk`` events, usage chunk included."""
        url, headers, payload, timeout = self._request(target, body, stream=True)
        first = True
        try:
            async with self._client().post(url, data=payload, headers=headers, timeout=timeout) as response:
                if response.status >= 400:
                    raise http_status_error(response.status, await response.read(), response.headers, **_where(target))
                async for line in response.content:
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    first = False
                    yield orjson.loads(data)
            if first:
                raise ProviderResponseError("the stream ended before any chunk", **_where(target))
        except ProviderError:
            raise
        except Exception as exc:
            raise translate(exc, **_where(target)) from exc

    async def close(self) -> None:
        """Close the pooled session (at application shutdown)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    # ---- pieces --------------------------------------------------------------------------------
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    def _target(self, spec: ModelSpec, deployment: str) -> tuple[str, dict[str, str], Deployment]:
        # keyed by the spec object: the registry hands out the same object until the entry changes
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
        self, target: Target, body: dict[str, Any], stream: bool
    ) -> tuple[str, dict[str, str], bytes, aiohttp.ClientTimeout]:
        spec = target.entry.spec
        url, headers, dep = self._target(spec, target.deployment)
        # a field the model's schema declares is a parameter: checked (a bad value is the caller's
        # ParameterError, 400) and renamed; every other field of the body is forwarded as given
        declared = {name: body[name] for name in spec.params if name in body}
        params = provider_names(spec, canonical_values(spec, {**declared, **target.params}))
        upstream = {name: value for name, value in body.items() if name not in declared}
        upstream.update(params, model=dep.model_id or spec.name)
        seconds = min(dep.timeout or target.remaining(), target.remaining())
        if stream:
            upstream["stream"] = True
            upstream["stream_options"] = {"include_usage": True}
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
        else:
            timeout = aiohttp.ClientTimeout(total=seconds)
        return url, headers, orjson.dumps(upstream), timeout


def _where(target: Target) -> dict[str, Any]:
    return {"provider": target.entry.spec.provider, "model": target.model, "deployment": target.deployment}
