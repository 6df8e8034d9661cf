"""Request bodies of the OpenAI-compatible endpoints (what the ``openai`` client sends).

Unknown fields are ignored, as OpenAI-compatible servers do; Modelyard's own hints
(``max_cost``, ``task``) travel as extra fields (``extra_body`` in the ``openai`` client).
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import BaseMessage, convert_to_messages
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

__all__ = ["ChatCompletionRequest", "ChatMessage", "EmbeddingRequest", "StreamOptions"]


class ChatMessage(BaseModel):
    """One message of the conversation."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False
    """Send a last chunk with ``usage`` (and no choices) before ``[DONE]``."""


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``."""

    model_config = ConfigDict(extra="ignore")

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
    modelyard_cache: bool | Literal["exact", "semantic"] | None = None
    """Modelyard: ``false`` skips the response cache, ``"semantic"`` also matches similar questions,
    ``true``/``"exact"`` asks for the exact cache where it is not on by default (see app/server/gateway/cache.py)."""

    _converted: list[BaseMessage] = PrivateAttr(default_factory=list)

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

    def upstream_body(self) -> dict[str, Any]:
        """The request as forwarded to an OpenAI-compatible deployment, before the model's own name
        and validated parameters are filled in (see :mod:`app.server.gateway.passthrough`)."""
        return {
            "messages": [m.model_dump(exclude_none=True) for m in self.messages],
            **({"user": self.user} if self.user is not None else {}),
        }

    def router_input(self) -> dict[str, Any]:
        """The :class:`~routers.router.RouterRunnable` input for this request."""
        value: dict[str, Any] = {"messages": list(self._converted), "model": self.model, "params": self.params()}
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
