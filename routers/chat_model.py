"""The router as a LangChain chat model: wherever a ``BaseChatModel`` works, the router works.

:class:`RouterChatModel` is a thin ``BaseChatModel`` over a :class:`~routers.router.RouterRunnable`:
``bind_tools``, ``with_structured_output`` (``json_schema``, ``function_calling``, ``json_mode``,
``include_raw``), ``stop``, callbacks, ``usage_metadata``, streamed tool-call chunks and async all
come from LangChain's base class and its output parsers. Each call becomes one routed request: the
call options (tools, response_format, stop, seed, ...) need capabilities, so the router chooses
and falls back to only models that can honour them (:mod:`models.capabilities`); a named model
that cannot is a :class:`~core.errors.ParameterError` naming the missing capability. An option
the router cannot carry is refused, never dropped.

Routing hints (``model``, ``task``, ``max_cost``, ``user``) are fields, or per call through
``.bind(max_cost=0.001)``. The answer carries ``response_metadata["route"]``.

Example:
    >>> from routers.router import RouterRunnable
    >>> chat = RouterChatModel(router=RouterRunnable.from_config(with_classifier=False), max_tokens=64)
    >>> chat._llm_type
    'modelyard-router'
    >>> chat.bind_tools([{"type": "function", "function": {"name": "f", "parameters": {}}}]).kwargs["tools"][0]["type"]
    'function'
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel, LangSmithParams
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from core.errors import RoutingError
from models.adapters.openai_tools import OpenAIToolsMixin
from models.capabilities import OPTION_FIELDS

__all__ = ["OPTIONS", "RouterChatModel"]

OPTIONS = OPTION_FIELDS
"""Call options passed to the chosen model (each needs a capability: :mod:`models.capabilities`)."""
_HINTS = ("model", "task", "max_cost", "user", "timeout")
_PARAMS = ("temperature", "max_tokens", "top_p")
_IGNORED = frozenset({"ls_structured_output_format", "stream"})  # LangChain's own bookkeeping


class RouterChatModel(OpenAIToolsMixin, BaseChatModel):
    """A ``BaseChatModel`` whose every call is routed by a :class:`~routers.router.RouterRunnable`.

    Example:
        >>> from routers.router import RouterRunnable
        >>> chat = RouterChatModel(router=RouterRunnable.from_config(with_classifier=False), model="smollm2-135m")
        >>> chat._get_ls_params()["ls_model_name"]
        'smollm2-135m'
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    router: Any = Field(exclude=True)
    """The :class:`~routers.router.RouterRunnable` that decides and dispatches."""
    model: str = "auto"
    """A catalog name, or ``auto`` to let the router choose per request."""
    task: str | None = None
    """Routing hint: the task, instead of the classifier's guess."""
    max_cost: float | None = None
    """Routing hint: USD budget per request."""
    user: str | None = None
    """Sticky A/B assignment key."""
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    """Default stop sequences (a call's ``stop`` replaces them)."""
    timeout: float | None = None
    """Seconds for a whole request, fallbacks included (the routing config's default when unset)."""
    max_retries: int = Field(0, ge=0)
    """Extra routing rounds when every planned attempt failed (the router already falls back)."""
    streaming: bool = False
    """Answer ``invoke`` through the streaming path (tokens reach callbacks as they come)."""

    @property
    def _llm_type(self) -> str:
        return "modelyard-router"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model, "task": self.task, "max_cost": self.max_cost}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider="modelyard", ls_model_name=kwargs.get("model", self.model))
        params["ls_model_type"] = "chat"
        if self.temperature is not None:
            params["ls_temperature"] = self.temperature
        if self.max_tokens is not None:
            params["ls_max_tokens"] = self.max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    # ---- one routed request per call -----------------------------------------------------------
    def _request(self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The router input for a call: hints, canonical parameters and call options."""
        unknown = sorted(set(kwargs) - OPTIONS - set(_HINTS) - set(_PARAMS) - _IGNORED)
        if unknown:
            raise ValueError(
                f"RouterChatModel cannot honour {', '.join(repr(n) for n in unknown)}: it takes the call options "
                f"{', '.join(sorted(OPTIONS))}, the parameters {', '.join(_PARAMS)} and the hints {', '.join(_HINTS)}"
            )
        value: dict[str, Any] = {"messages": messages}
        for hint in _HINTS:
            given = kwargs.get(hint, getattr(self, hint))
            if given is not None:
                value[hint] = given
        params = {name: kwargs.get(name, getattr(self, name)) for name in _PARAMS}
        value["params"] = {name: given for name, given in params.items() if given is not None}
        options = {name: kwargs[name] for name in OPTIONS if kwargs.get(name) is not None}
        if stop or self.stop:
            options["stop"] = stop or self.stop
        value["options"] = options
        return value

    def _rounds(self) -> range:
        return range(self.max_retries + 1)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        for round_ in self._rounds():
            try:
                return _result(self.router.invoke_routed(self.router.route(request)))
            except RoutingError as exc:
                if not exc.attempts or round_ == self.max_retries:
                    raise
        raise AssertionError("unreachable")

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        request = self._request(messages, stop, kwargs)
        for round_ in self._rounds():
            try:
                return _result(await self.router.ainvoke_routed(await self.router.aroute(request)))
            except RoutingError as exc:
                if not exc.attempts or round_ == self.max_retries:
                    raise
        raise AssertionError("unreachable")

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        routed = self.router.route(self._request(messages, stop, kwargs))
        for chunk in self.router.stream_routed(routed):
            generation = ChatGenerationChunk(message=chunk)
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=generation)
            yield generation

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        routed = await self.router.aroute(self._request(messages, stop, kwargs))
        async for chunk in self.router.astream_routed(routed):
            generation = ChatGenerationChunk(message=chunk)
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=generation)
            yield generation


def _result(message: BaseMessage) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=message)])
