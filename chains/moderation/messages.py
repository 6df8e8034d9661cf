"""Chat-message plumbing for the moderated runnable: input shapes, text parts, chunks.

The runnable accepts what a chat model accepts — a list of messages (or ``(role, text)``
tuples), a ``PromptValue``, a string — and also a dict with a ``"messages"`` key whose other keys
(routing hints such as ``task`` or ``model``) are passed on to the model unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue

__all__ = ["ChatInput", "map_text", "message_text", "rebuild_input", "split_input", "to_chunk", "with_text"]

ChatInput = Any  # list[BaseMessage | tuple | dict] | dict[str, Any] | PromptValue | str


def split_input(value: ChatInput) -> tuple[list[BaseMessage], dict[str, Any] | None]:
    """The messages of an input, and the dict they came in (``None`` if not a dict).

    Raises:
        TypeError: the input has no messages.
    """
    if isinstance(value, dict):
        if "messages" not in value:
            raise TypeError("a dict input needs a 'messages' key")
        return convert_to_messages(value["messages"]), value
    if isinstance(value, PromptValue):
        return value.to_messages(), None
    if isinstance(value, str):
        return convert_to_messages([("human", value)]), None
    return convert_to_messages(value), None


def rebuild_input(messages: list[BaseMessage], original: dict[str, Any] | None) -> ChatInput:
    """The input for the model: the same shape as the caller's, with new messages."""
    return messages if original is None else {**original, "messages": messages}


def message_text(message: BaseMessage | str) -> str:
    """The text of a message (text parts joined; images and tool calls left out)."""
    if isinstance(message, str):
        return message
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        part if isinstance(part, str) else str(part.get("text", ""))
        for part in content
        if isinstance(part, str) or part.get("type") == "text"
    )


def map_text(message: BaseMessage, change: Callable[[str], str]) -> BaseMessage:
    """A copy of ``message`` whose text (every text part) went through ``change``."""
    content = message.content
    if isinstance(content, str):
        return message.model_copy(update={"content": change(content)})
    parts: list[Any] = []
    for part in content:
        if isinstance(part, str):
            parts.append(change(part))
        elif part.get("type") == "text":
            parts.append({**part, "text": change(str(part.get("text", "")))})
        else:
            parts.append(part)
    return message.model_copy(update={"content": parts})


def with_text(content: str | list[Any], text: str) -> str | list[Any]:
    """``content`` with its text replaced by ``text``; images and other non-text parts are kept."""
    if isinstance(content, str):
        return text
    others = [part for part in content if isinstance(part, dict) and part.get("type") != "text"]
    if not others:
        return text
    return ([{"type": "text", "text": text}] if text else []) + others


def to_chunk(piece: Any, text: str) -> AIMessageChunk:
    """A chunk carrying ``text`` plus whatever else the model's chunk carried (images, usage, ids...)."""
    if isinstance(piece, AIMessageChunk):
        return piece.model_copy(update={"content": with_text(piece.content, text), "chunk_position": None})
    if isinstance(piece, AIMessage):
        return AIMessageChunk(
            content=with_text(piece.content, text),
            id=piece.id,
            response_metadata=piece.response_metadata,
            usage_metadata=piece.usage_metadata,
        )
    return AIMessageChunk(content=text)
