"""Request bodies of the OpenAI-compatible endpoints (what the ``openai`` client sends).

Every field of a chat completion is honoured or refused, never dropped:

* ``temperature``, ``top_p``, ``max_tokens`` / ``max_completion_tokens`` are *canonical*
  parameters, checked against each model's parameter schema and renamed for its provider;
* the capability fields (:data:`OPTION_FIELDS`: tools, tool_choice, parallel_tool_calls,
  response_format, stop, seed, n, logprobs, top_logprobs, logit_bias) go only to models whose
  catalog capabilities cover them (the router filters; a named model that cannot is a 400 naming
  the field and the missing capability) — forwarded as given to an OpenAI-protocol deployment,
  passed as call options to any other LangChain chat model;
* every other field — OpenAI's (:data:`OPENAI_FIELDS`: penalties, reasoning_effort, metadata, …)
  and any field this gateway does not know — is forwarded as given to an OpenAI-protocol
  deployment, passed to another model that declares it in its parameter schema, and otherwise
  refused with a 400 naming the field and the model (:meth:`ChatCompletionRequest.forwarded_fields`;
  see ``app/server/routes/completions.py``).

Modelyard's own hints (``max_cost``, ``task``, ``modelyard_cache``) travel as extra fields
(``extra_body`` in the ``openai`` client) and are never forwarded.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import BaseMessage, convert_to_messages
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from models.capabilities import OPTION_FIELDS

__all__ = [
    "OPENAI_FIELDS",
    "OPTION_FIELDS",
    "ChatCompletionRequest",
    "ChatMessage",
    "EmbeddingRequest",
    "StreamOptions",
]

OPENAI_FIELDS = (
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "stop",
    "seed",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "reasoning_effort",
    "metadata",
    "service_tier",
    "modalities",
    "prediction",
    "store",
    "audio",
    "web_search_options",
    "verbosity",
)
"""OpenAI Chat Completions fields the gateway carries to the model (besides the canonical ones)."""


_OWN = frozenset(
    {"model", "messages", "stream", "stream_options", "user", "temperature", "top_p", "max_tokens"}
    | {"max_completion_tokens", "max_cost", "task", "modelyard_cache"}
)
"""Fields the gateway itself consumes (never in :meth:`ChatCompletionRequest.forwarded_fields`)."""


class ChatMessage(BaseModel):
    """One message of the conversation."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False
    """Send a last chunk with ``usage`` (and no choices) before ``[DONE]``."""


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions`` (unknown fields are kept and forwarded or refused, never dropped)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    """A catalog name, or ``auto`` to let the router choose."""
    messages: list[ChatMessage] = Field(min_length=1)
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    """Sticky A/B assignment key."""
    max_cost: float | None = Field(None, ge=0)
    """Modelyard: USD budget for this request (the cost policy picks the cheapest model under it)."""
    task: str | None = None
    """Modelyard: the task, instead of the classifier's guess."""
    tools: list[dict[str, Any]] | None = None
    """Function tools the model may call (forwarded to OpenAI-protocol deployments)."""
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: dict[str, Any] | None = None
    """``{"type": "json_schema", "json_schema": {...}}``, ``{"type": "json_object"}`` or text."""
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(None, ge=1, le=128)
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    reasoning_effort: str | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    modalities: list[str] | None = None
    prediction: dict[str, Any] | None = None
    modelyard_cache: bool | Literal["exact", "semantic"] | None = None
    """Modelyard: ``false`` skips the response cache, ``"semantic"`` also matches similar questions,
    ``true``/``"exact"`` asks for the exact cache where it is not on by default (see app/server/gateway/cache.py)."""

    _converted: list[BaseMessage] = PrivateAttr(default_factory=list)
    _forwarded: dict[str, Any] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _messages_convert(self) -> ChatCompletionRequest:
        # converted once, here, so a message LangChain cannot take (a tool message without
        # tool_call_id, a content block without a type) is a 422 naming it, not a 500 later
        messages = [m.model_dump(exclude_none=True) for m in self.messages]
        for index, message in enumerate(messages):
            message.setdefault("content", "")
            try:
                self._converted.extend(convert_to_messages([message]))
            except (KeyError, ValueError, TypeError) as exc:
                detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0]
                role = message["role"]
                raise ValueError(f"messages[{index}] (role '{role}') is not a valid message: {detail}") from None
        return self

    def params(self) -> dict[str, Any]:
        """The canonical call parameters that were given."""
        values = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens if self.max_tokens is not None else self.max_completion_tokens,
        }
        return {name: value for name, value in values.items() if value is not None}

    def forwarded_fields(self) -> dict[str, Any]:
        """Every field given that the gateway does not consume itself: OpenAI's and unknown ones.

        Example:
            >>> body = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
            ...                              seed=7, temperature=0, x_vendor_flag=True)
            >>> body.forwarded_fields()
            {'seed': 7, 'x_vendor_flag': True}
        """
        if self._forwarded is None:  # computed once: the plan check and the forwarded body both read it
            given = {name: getattr(self, name) for name in OPENAI_FIELDS if getattr(self, name, None) is not None}
            for name, value in (self.model_extra or {}).items():
                if name not in _OWN and value is not None:
                    given[name] = value
            self._forwarded = given
        return dict(self._forwarded)

    def upstream_body(self) -> dict[str, Any]:
        """The request as forwarded to an OpenAI-compatible deployment, before the model's own name
        and validated canonical parameters are filled in (:mod:`models.adapters.openai_http`)."""
        return {
            "messages": [m.model_dump(exclude_none=True) for m in self.messages],
            **({"user": self.user} if self.user is not None else {}),
            **self.forwarded_fields(),
        }

    def options(self) -> dict[str, Any]:
        """The capability fields given (:data:`OPTION_FIELDS`), leaving out those that ask for the
        default (``n`` of 1, a ``text`` response format): the router's call options."""
        given = {name: value for name, value in self.forwarded_fields().items() if name in OPTION_FIELDS}
        if given.get("n") == 1:
            del given["n"]
        if (given.get("response_format") or {}).get("type") == "text":
            del given["response_format"]
        return given

    def router_input(self) -> dict[str, Any]:
        """The :class:`~routers.router.RouterRunnable` input for this request."""
        value: dict[str, Any] = {
            "messages": list(self._converted),
            "model": self.model,
            "params": self.params(),
            "options": self.options(),
        }
        for hint in ("user", "max_cost", "task"):
            if getattr(self, hint) is not None:
                value[hint] = getattr(self, hint)
        return value


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)
