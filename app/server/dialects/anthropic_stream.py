"""The gateway's chat stream (OpenAI ``chat.completion.chunk`` SSE) as Anthropic's Messages stream.

Pure translation, no I/O: :class:`MessageStream` is fed the SSE body's bytes as they come and
returns Anthropic's events for them —

``message_start``; per content block ``content_block_start``, ``content_block_delta``
(``text_delta`` for text, ``input_json_delta`` for a tool call's arguments) and
``content_block_stop``; then ``message_delta`` (``stop_reason``, ``stop_sequence``, ``usage``, and
Modelyard's ``modelyard_route``) and ``message_stop`` at ``[DONE]``. An ``{"error": ...}`` event
(a failure after the stream began) becomes an ``error`` event, and nothing follows it.

The input token count is known only at the end, so ``message_start`` reports 0 and
``message_delta`` the real count (the ``anthropic`` SDK takes both from it).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from app.server.dialects.anthropic import message_id, stop_reason

__all__ = ["MessageStream", "event"]

Event = tuple[str, dict[str, Any]]

_ERROR_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "rate_limit_error",
    "billing_error",
}


def event(name: str, data: dict[str, Any]) -> bytes:
    """One Anthropic server-sent event.

    Example:
        >>> event("message_stop", {"type": "message_stop"})
        b'event: message_stop\\ndata: {"type":"message_stop"}\\n\\n'
    """
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class MessageStream:
    """Turns the bytes of one chat SSE body into Anthropic stream events, piece by piece.

    Args:
        stop_sequences: the request's ``stop_sequences`` (to report which one matched, when the
            upstream says).

    Example:
        >>> stream = MessageStream()
        >>> text = b'data: {"id": "chatcmpl-7", "model": "m", "choices": [{"delta": {"content": "hi"}}]}\\n\\n'
        >>> [line for line in stream.feed(text).split(b"\\n") if line.startswith(b"event")]
        [b'event: message_start', b'event: content_block_start', b'event: content_block_delta']
        >>> stream.feed(b"data: [DONE]\\n\\n").count(b"event:"), stream.finished
        (3, True)
    """

    def __init__(self, stop_sequences: list[str] | None = None):
        self._stop_sequences = stop_sequences
        self._buffer = b""
        self._started = False
        self._blocks = 0
        self._open: int | None = None
        """The index of the open content block, if one is open."""
        self._tools: dict[int, int] = {}
        """OpenAI tool-call index → Anthropic block index."""
        self._choice: dict[str, Any] = {}
        self._usage: dict[str, Any] = {}
        self._route: dict[str, Any] | None = None
        self.finished = False
        """True once ``message_stop`` or an ``error`` event was produced: later input is ignored."""

    def feed(self, piece: bytes) -> bytes:
        """The Anthropic events for ``piece`` (events cut across pieces are completed by the next)."""
        self._buffer += piece
        *complete, self._buffer = self._buffer.split(b"\n\n")
        out: list[bytes] = []
        for raw in complete:
            data = b"\n".join(line[5:].strip() for line in raw.split(b"\n") if line.startswith(b"data:"))
            if data and not self.finished:
                out.extend(event(name, payload) for name, payload in self._translate(data))
        return b"".join(out)

    def _translate(self, data: bytes) -> list[Event]:
        if data == b"[DONE]":
            self.finished = True
            return self._end()
        chunk = orjson.loads(data)
        if "error" in chunk:
            error = chunk["error"] or {}
            return self._error(str(error.get("message", "the stream failed")), str(error.get("type", "")))
        events = [] if self._started else [self._start(chunk)]
        self._started = True
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        if chunk.get("modelyard_route") is not None:
            self._route = chunk["modelyard_route"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:  # the Messages API has one answer
                continue
            delta = choice.get("delta") or {}
            for text in (delta.get("content"), delta.get("refusal")):
                if text:
                    events += self._text(str(text))
            for call in delta.get("tool_calls") or []:
                events += self._tool(call)
                if self.finished:
                    return events
            if choice.get("finish_reason"):
                self._choice = choice
        return events

    def _start(self, chunk: dict[str, Any]) -> Event:
        message = {
            "id": message_id(str(chunk.get("id", ""))),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": chunk.get("model", ""),
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return "message_start", {"type": "message_start", "message": message}

    def _open_block(self, block: dict[str, Any]) -> list[Event]:
        events = self._close_block()
        self._open, self._blocks = self._blocks, self._blocks + 1
        return [
            *events,
            ("content_block_start", {"type": "content_block_start", "index": self._open, "content_block": block}),
        ]

    def _close_block(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open = self._open, None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _delta(self, delta: dict[str, Any]) -> Event:
        return "content_block_delta", {"type": "content_block_delta", "index": self._open, "delta": delta}

    def _text(self, text: str) -> list[Event]:
        in_text = self._open is not None and self._open not in self._tools.values()
        events = [] if in_text else self._open_block({"type": "text", "text": ""})
        return [*events, self._delta({"type": "text_delta", "text": text})]

    def _tool(self, call: dict[str, Any]) -> list[Event]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[Event] = []
        if position not in self._tools:
            tool_id = call.get("id") or f"toolu_{uuid.uuid4().hex}"
            block: dict[str, Any] = {"type": "tool_use", "id": tool_id, "name": function.get("name") or "", "input": {}}
            events = self._open_block(block)
            self._tools[position] = self._blocks - 1
        elif self._tools[position] != self._open:  # a closed block cannot be reopened
            return self._error("the model interleaved the arguments of two tool calls, which this stream cannot carry")
        if function.get("arguments"):
            events.append(self._delta({"type": "input_json_delta", "partial_json": str(function["arguments"])}))
        return events

    def _end(self) -> list[Event]:
        reason, sequence = stop_reason(self._choice, self._stop_sequences)
        usage = {
            "input_tokens": int(self._usage.get("prompt_tokens") or 0),
            "output_tokens": int(self._usage.get("completion_tokens") or 0),
        }
        delta: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": sequence}}
        delta["usage"] = usage
        if self._route is not None:
            delta["modelyard_route"] = self._route
        return [*self._close_block(), ("message_delta", delta), ("message_stop", {"type": "message_stop"})]

    def _error(self, message: str, openai_type: str = "") -> list[Event]:
        self.finished = True
        kind = "billing_error" if openai_type == "insufficient_quota" else openai_type
        kind = kind if kind in _ERROR_TYPES else "api_error"
        return [("error", {"type": "error", "error": {"type": kind, "message": message}})]
