"""The LangChain transport: one attempt is one call of the catalog entry's chat model.

Chat models are built once per (spec fingerprint, deployment, parameters) and kept in a small
LRU, so a request does not rebuild SDK clients. A model that cannot be *built* (local weights
missing or unreadable, an engine that fails to load) is a provider failure of that deployment:
fallbacks run and its health counts it. A bad parameter stays the caller's ``ParameterError``.

Example:
    >>> transport = ChatModelTransport(cache_size=2)
    >>> len(transport._models)
    0
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import RunnableConfig

from core.errors import ModelyardError, ProviderError
from models.factory import build_chat_model
from models.target import Target

__all__ = ["ChatModelTransport", "ChatPayload"]

ChatPayload = tuple[list[BaseMessage], RunnableConfig | None]
"""What the LangChain transport sends: the messages and the caller's runnable config."""


class ChatModelTransport:
    """Calls the catalog entry's LangChain chat model (built once, LRU-cached)."""

    def __init__(self, cache_size: int = 256):
        self.cache_size = cache_size
        self._models: OrderedDict[tuple[Any, ...], BaseChatModel] = OrderedDict()

    def model(self, target: Target) -> BaseChatModel:
        """The chat model for ``target`` (built on first use; a build failure is a ``ProviderError``)."""
        spec = target.entry.spec
        key = (spec.fingerprint(), target.deployment, json.dumps(target.params, sort_keys=True, default=str))
        model = self._models.get(key)
        if model is not None:
            self._models.move_to_end(key)
            return model
        try:
            model = build_chat_model(spec, target.deployment, target.params)
        except ModelyardError:
            raise
        except Exception as exc:  # weights missing, engine failing to load: this deployment is unusable
            source = f" from {spec.source.file}" if spec.source is not None else ""
            raise ProviderError(
                f"could not load the model{source}: {type(exc).__name__}: {exc}",
                provider=spec.provider,
                model=spec.name,
                deployment=target.deployment,
            ) from exc
        self._models[key] = model
        if len(self._models) > self.cache_size:
            self._models.popitem(last=False)
        return model

    async def amodel(self, target: Target) -> BaseChatModel:
        """:meth:`model`, building off the event loop (a first local load can take seconds)."""
        spec = target.entry.spec
        key = (spec.fingerprint(), target.deployment, json.dumps(target.params, sort_keys=True, default=str))
        if key in self._models:
            return self.model(target)
        return await asyncio.to_thread(self.model, target)

    # the target's call options (tools, response_format, stop, ...) are the chat model's call kwargs
    def invoke(self, target: Target, payload: ChatPayload) -> BaseMessage:
        messages, config = payload
        return self.model(target).invoke(messages, config, **target.options)

    async def ainvoke(self, target: Target, payload: ChatPayload) -> BaseMessage:
        messages, config = payload
        return await (await self.amodel(target)).ainvoke(messages, config, **target.options)

    def stream(self, target: Target, payload: ChatPayload) -> Iterator[AIMessageChunk]:
        messages, config = payload
        yield from self.model(target).stream(messages, config, **target.options)

    async def astream(self, target: Target, payload: ChatPayload) -> AsyncIterator[AIMessageChunk]:
        messages, config = payload
        async for chunk in (await self.amodel(target)).astream(messages, config, **target.options):
            yield chunk
