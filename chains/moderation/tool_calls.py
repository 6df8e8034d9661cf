"""Moderation of tool calls: their arguments are text like any other.

On the way in, tool-call arguments in the history get the same PII placeholders as the text
around them (an untrusted model never sees the raw values it was once told). On the way out, a
tool call's arguments are reviewed under the policy's output rules — a ``block`` category
withholds the call — and placeholders are restored in them, so the tool receives the real order
number or e-mail address the user typed. A streamed tool call is held back until it is complete:
a placeholder split across two argument chunks could not be restored, nor a term reviewed.

Example:
    >>> from chains.moderation.screen import Moderator
    >>> from chains.moderation.vault import PiiVault
    >>> vault = PiiVault()
    >>> masked = vault.placeholder("EMAIL", "ann@example.com")
    >>> calls = [{"name": "notify", "args": {"to": masked}, "id": "c1", "type": "tool_call"}]
    >>> review = review_tool_calls(Moderator.from_config(), "default", vault, calls)
    >>> review.calls[0]["args"], review.blocked_categories
    ({'to': 'ann@example.com'}, [])
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall

from chains.moderation.screen import Moderator
from chains.moderation.vault import PiiVault

__all__ = [
    "ToolCallReview",
    "as_chunk_parts",
    "collect_tool_calls",
    "map_arguments",
    "mask_tool_calls",
    "review_tool_calls",
    "without_tool_calls",
]


def map_arguments(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` (a tool call's arguments) with every string inside it passed through ``change``."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: map_arguments(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [map_arguments(item, change) for item in value]
    return value


def mask_tool_calls(message: BaseMessage, change: Callable[[str], str]) -> BaseMessage:
    """A copy of an assistant ``message`` whose tool-call arguments went through ``change``."""
    if not isinstance(message, AIMessage) or not message.tool_calls:
        return message
    calls = [{**call, "args": map_arguments(call["args"], change)} for call in message.tool_calls]
    kwargs = {key: value for key, value in message.additional_kwargs.items() if key != "tool_calls"}
    return message.model_copy(update={"tool_calls": calls, "additional_kwargs": kwargs})


@dataclass
class ToolCallReview:
    """Reviewed tool calls: arguments restored, and what the review found."""

    calls: list[ToolCall]
    flags: list[dict[str, str]] = field(default_factory=list)
    blocked_categories: list[str] = field(default_factory=list)


def review_tool_calls(moderator: Moderator, policy: str, vault: PiiVault, calls: list[ToolCall]) -> ToolCallReview:
    """Review each call's arguments under ``policy``'s output rules and restore placeholders in them."""
    review = ToolCallReview(calls=[])
    for call in calls:
        text = json.dumps(call["args"], ensure_ascii=False)
        result = moderator.screen(text, policy, "output", find_pii=False)
        review.flags += [{**flag, "stage": "tool_call", "tool": call["name"]} for flag in result.flags("output")]
        review.blocked_categories += [c for c in result.blocked_categories if c not in review.blocked_categories]
        review.calls.append({**call, "args": map_arguments(call["args"], vault.restore)})
    return review


def collect_tool_calls(chunks: list[AIMessageChunk]) -> list[ToolCall]:
    """The complete tool calls of a stream's tool-call chunks (merged the way LangChain merges them)."""
    if not chunks:
        return []
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return list(total.tool_calls)


def without_tool_calls(chunk: AIMessageChunk) -> AIMessageChunk:
    """``chunk`` with its tool-call pieces taken out (they are held back until the call is complete)."""
    return chunk.model_copy(update={"tool_call_chunks": [], "tool_calls": [], "invalid_tool_calls": []})


def as_chunk_parts(calls: list[ToolCall]) -> list[dict[str, Any]]:
    """Complete tool calls as the ``tool_call_chunks`` of one chunk."""
    return [
        {
            "name": call["name"],
            "args": json.dumps(call["args"]),
            "id": call.get("id"),
            "index": i,
            "type": "tool_call_chunk",
        }
        for i, call in enumerate(calls)
    ]
