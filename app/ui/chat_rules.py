"""How the chat prepares and finishes a turn, without Streamlit: the answer style for the chosen
model, history trimmed to what the model can take, leftover PII placeholders removed from the
answer, and a failure put in words.

Example:
    >>> scrub = PlaceholderFilter()
    >>> scrub.feed("You can find me on [Em") + scrub.feed("ail1].") + scrub.finish()
    'You can find me on (withheld).'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langchain_core.messages import BaseMessage

from core.errors import ModerationBlocked, ProviderTimeout, RoutingError
from models.spec import ModelSpec

__all__ = [
    "LOCAL_HISTORY_TOKENS",
    "WITHHELD",
    "PlaceholderFilter",
    "describe_refusal",
    "failure_message",
    "history_budget",
    "trim_history",
]

LOCAL_HISTORY_TOKENS = 384
"""History cap for local models: each prompt token costs CPU time before the first answer token
(a 623-token knowledge-base prompt waited 7.6 s for its first token)."""
WITHHELD = "(withheld)"
"""What a leftover placeholder becomes in an answer."""

_PII_WORDS = r"email|e-mail|phone|person|name|address|iban|credit[_ ]?card|card|cn[_ ]?id|us[_ ]?ssn|ssn|ip[_ ]?address"
_PLACEHOLDER = re.compile(rf"[<\[]\s*(?:{_PII_WORDS})[ _-]?\d*\s*[>\]]", re.IGNORECASE)
_HOLD_CHARS = 24
"""A ``<`` or ``[`` this close to the end of the streamed text may open a placeholder: held back."""


def history_budget(spec: ModelSpec | None, max_tokens: int) -> int:
    """Tokens of earlier turns to send: half of what the window leaves after the answer, and at most
    :data:`LOCAL_HISTORY_TOKENS` for a local model (the router may pick one: counted as local)."""
    window = spec.context_window if spec is not None else 2048
    budget = max(0, (window - max_tokens) // 2)
    return min(budget, LOCAL_HISTORY_TOKENS) if spec is None or spec.is_local else budget


def trim_history(
    messages: list[BaseMessage], budget: int, count: Callable[[str], int] | None = None
) -> list[BaseMessage]:
    """The most recent messages whose text fits ``budget`` tokens, starting at a user message.

    Example:
        >>> from langchain_core.messages import AIMessage, HumanMessage
        >>> turns = [HumanMessage("a b c"), AIMessage("d e"), HumanMessage("f"), AIMessage("g h")]
        >>> [m.text for m in trim_history(turns, 3, count=lambda t: len(t.split()))]
        ['f', 'g h']
    """
    if count is None:
        from models.tokens import count_tokens

        count = count_tokens
    kept: list[BaseMessage] = []
    used = 0
    for message in reversed(messages):
        used += count(message.text)
        if used > budget:
            break
        kept.append(message)
    kept.reverse()
    while kept and kept[0].type != "human":
        kept.pop(0)
    return kept


class PlaceholderFilter:
    """Removes PII placeholders the model wrote itself (``<EMAIL_1>``, ``[Email1]``) from a stream.

    Moderation restores the placeholders it made; one that is left was invented by the model (or
    belongs to no masked value) and would read as a leak, so it becomes :data:`WITHHELD`. Text that
    might open a placeholder is held back until it is complete.
    """

    def __init__(self) -> None:
        self._pending = ""
        self.removed = 0

    def feed(self, text: str) -> str:
        """The part of ``pending + text`` that is safe to show now."""
        self._pending += text
        cut = len(self._pending)
        for position in range(max(0, cut - _HOLD_CHARS), cut):  # the first opener not closed yet
            if self._pending[position] in "<[" and not re.search(r"[>\]]", self._pending[position:]):
                cut = position
                break
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._scrub(ready)

    def finish(self) -> str:
        """Whatever is still held back."""
        rest, self._pending = self._pending, ""
        return self._scrub(rest)

    def _scrub(self, text: str) -> str:
        cleaned, found = _PLACEHOLDER.subn(WITHHELD, text)
        self.removed += found
        return cleaned


def failure_message(exc: BaseException, timeout_s: float | None = None) -> str:
    """What the chat says when a turn fails: a timeout names the wait and what to try."""
    if isinstance(exc, ModerationBlocked):
        return str(exc)
    timed_out = isinstance(exc, ProviderTimeout) or (
        isinstance(exc, RoutingError) and any("Timeout" in a.error or "timed out" in a.error for a in exc.attempts)
    )
    if timed_out:
        waited = f" within {timeout_s:.0f} s" if timeout_s else ""
        return (
            f"The model did not answer{waited} (timeout), so the turn was abandoned. A local model on a busy "
            "CPU is slow on long prompts: try fewer max tokens, a shorter question, or New chat to drop the history."
        )
    if isinstance(exc, RoutingError):
        return f"No model could answer: {exc}"
    return f"The model failed: {exc}"


def describe_refusal(refusal: dict[str, Any]) -> str:
    """The system message for a knowledge-base refusal: the best match and its score against the threshold."""
    best, threshold = refusal.get("best"), refusal.get("threshold")
    limit = f" (threshold {threshold:.2f})" if isinstance(threshold, int | float) else ""
    if not best:
        return f"No source in the knowledge base matched this question{limit}; the model was not called."
    where = " — ".join(part for part in (best.get("file"), best.get("heading")) if part)
    return (
        f"No source reached the relevance threshold{limit}. Best match: **{where}**, relevance "
        f"{best.get('score', 0):.2f}. The model was not called."
    )
