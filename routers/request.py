"""What the router is asked: chat messages plus optional routing hints.

The router accepts a list of messages, a string, or a dict ``{"messages": [...], "model": ...,
"task": ..., "max_cost": ..., "user": ..., "experiment": ..., "params": {...},
"options": {...}, "image_generation": bool, "allowed_models": [...]}``. Hints may also arrive in
``RunnableConfig["configurable"]``.

``options`` are OpenAI-shaped call options (``tools``, ``tool_choice``, ``response_format``,
``stop``, ``seed``, ``logprobs``, ...): each needs a capability (:mod:`models.capabilities`), and
the router chooses only models that have it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, convert_to_messages

from models.capabilities import needed_by
from models.spec import ModelSpec

__all__ = ["HINTS", "RouteRequest"]

HINTS = (
    "model",
    "task",
    "max_cost",
    "user",
    "experiment",
    "params",
    "options",
    "image_generation",
    "timeout",
    "allowed_models",
)


@dataclass
class RouteRequest:
    """A request with its hints; derived facts (``text``, ``has_image``) are computed once."""

    messages: list[BaseMessage]
    model: str | None = None
    """An explicit catalog name; ``None`` or ``"auto"`` lets the policies choose."""
    task: str | None = None
    """Overrides the task classifier."""
    max_cost: float | None = None
    """USD budget for this request."""
    user: str | None = None
    """Sticky A/B assignment key."""
    experiment: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    """OpenAI-shaped call options (tools, response_format, stop, ...), passed to the chosen model."""
    image_generation: bool = False
    timeout: float | None = None
    """Seconds for the whole request, fallbacks included."""
    allowed_models: Collection[str] | None = None
    """Only these models may answer, fallbacks included (a consumer key's restriction); ``None`` = any."""
    _prompt_tokens: int | None = field(default=None, init=False, repr=False)

    @classmethod
    def parse(cls, value: Any, configurable: dict[str, Any] | None = None) -> RouteRequest:
        hints = {k: v for k, v in (configurable or {}).items() if k in HINTS and v is not None}
        if isinstance(value, dict):
            hints.update({k: v for k, v in value.items() if k in HINTS and v is not None})
            value = value.get("messages", value.get("input", []))
        if isinstance(value, str):
            messages: list[BaseMessage] = [HumanMessage(content=value)]
        elif hasattr(value, "to_messages"):
            messages = value.to_messages()
        else:
            messages = convert_to_messages(value)
        if not messages:
            raise ValueError("the request has no messages")
        return cls(messages=messages, **hints)

    @property
    def explicit_model(self) -> str | None:
        return None if self.model in (None, "", "auto") else self.model

    def params_for(self, spec: ModelSpec) -> dict[str, Any]:
        """The parameters to send to ``spec``'s model. A model named by the caller gets them all (an
        undeclared one is a ``ParameterError`` there); a model the router chose gets only those it
        declares — the caller could not know which model would answer."""
        if self.explicit_model is not None:
            return self.params
        return {name: value for name, value in self.params.items() if name in spec.params}

    @property
    def needs(self) -> dict[str, str]:
        """The capabilities :attr:`options` need, each with the option that needs it."""
        return needed_by(self.options)

    @property
    def text(self) -> str:
        """The last user message's text (what the task classifier reads)."""
        for message in reversed(self.messages):
            if message.type == "human":
                return message.text
        return self.messages[-1].text

    @property
    def has_image(self) -> bool:
        for message in self.messages:
            if isinstance(message.content, list):
                for part in message.content:
                    if isinstance(part, dict) and part.get("type") in ("image_url", "image"):
                        return True
        return False

    def prompt_tokens(self) -> int:
        """A fast estimate: ~4 characters a token, one per CJK character (no tokenizer call)."""
        if self._prompt_tokens is None:
            self._prompt_tokens = self._count_prompt_tokens()
        return self._prompt_tokens

    def _count_prompt_tokens(self) -> int:
        total = 0
        for message in self.messages:
            text = message.text
            cjk = sum(1 for ch in text if "\u3000" <= ch <= "\u9fff")
            total += cjk + (len(text) - cjk) // 4 + 4
        return total
