"""A chat-completion chunk stream as Responses API stream events (pure: dicts in, dicts out).

:class:`ResponseEvents` is fed the ``chat.completion.chunk`` dicts of the gateway's chat stream and
returns the typed events OpenAI's Responses API sends, each with its ``sequence_number``:
``response.created`` and ``response.in_progress`` first; for the answer's text a message item
(``response.output_item.added``, ``response.content_part.added``, ``response.output_text.delta`` …,
``response.output_text.done``, ``response.content_part.done``, ``response.output_item.done``); for
each tool call a ``function_call`` item (``response.function_call_arguments.delta`` / ``.done``);
then ``response.completed`` (``response.incomplete`` after a length cut) with the whole Response —
or, on a failure mid-stream, ``error`` and ``response.failed``.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from app.server.dialects.responses import finish_status, new_id, usage_from_chat

__all__ = ["ResponseEvents"]


class ResponseEvents:
    """Translate one chat stream into Responses events.

    Args:
        response: the Response object as created (status ``in_progress``, no output yet).

    Example:
        >>> events = ResponseEvents({"id": "resp_1", "object": "response", "status": "in_progress", "output": []})
        >>> [e["type"] for e in events.start()]
        ['response.created', 'response.in_progress']
        >>> [e["type"] for e in events.feed({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})]
        ['response.output_item.added', 'response.content_part.added', 'response.output_text.delta']
        >>> [e["type"] for e in events.finish()][-1], events.response["output"][0]["content"][0]["text"]
        ('response.completed', 'Hi')
    """

    def __init__(self, response: dict[str, Any]):
        self.response = response
        """The Response as it stands; complete after :meth:`finish`."""
        self._sequence = 0
        self._text: dict[str, Any] | None = None
        """The message item being streamed, while its text part is open."""
        self._calls: dict[int, dict[str, Any]] = {}
        """Open ``function_call`` items by the chat stream's tool-call index."""
        self._finish_reason: str | None = None
        self._usage: dict[str, Any] | None = None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        """The next event; its fields are copied, as the items and parts they show go on growing."""
        event = {"type": kind, "sequence_number": self._sequence, **copy.deepcopy(fields)}
        self._sequence += 1
        return event

    def start(self) -> list[dict[str, Any]]:
        """``response.created`` and ``response.in_progress``."""
        return [
            self._event("response.created", response=self.response),
            self._event("response.in_progress", response=self.response),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events for one chat chunk (the usage chunk and the route it carries only update state)."""
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        if chunk.get("model"):
            self.response["model"] = chunk["model"]
        if "modelyard_route" in chunk:
            self.response["modelyard_route"] = chunk["modelyard_route"]
        events: list[dict[str, Any]] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text_delta(delta["content"])
            if delta.get("refusal"):
                events += self._refusal(delta["refusal"])
            for call in delta.get("tool_calls") or []:
                events += self._call_delta(call)
            self._finish_reason = choice.get("finish_reason") or self._finish_reason
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Close the open items; ``response.completed`` (or ``response.incomplete``) with the whole Response."""
        status, incomplete = finish_status(self._finish_reason)
        events = self._close_all("incomplete" if incomplete else "completed")
        self.response.update(status=status, incomplete_details=incomplete, usage=usage_from_chat(self._usage))
        if status == "completed":
            self.response["completed_at"] = int(time.time())
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=self.response)]

    def fail(self, error: dict[str, Any]) -> list[dict[str, Any]]:
        """``error`` and ``response.failed`` for a chat stream's ``{"error": {...}}`` event."""
        events = self._close_all("incomplete")
        self.response.update(status="failed", error={"code": error.get("code") or "error", "message": error["message"]})
        fields = {"code": error.get("code"), "message": error["message"], "param": error.get("param")}
        return [*events, self._event("error", **fields), self._event("response.failed", response=self.response)]

    # ---- items ------------------------------------------------------------------------------
    def _add_item(self, item: dict[str, Any]) -> dict[str, Any]:
        self.response["output"].append(item)
        return self._event("response.output_item.added", output_index=len(self.response["output"]) - 1, item=item)

    def _index(self, item: dict[str, Any]) -> int:
        return next(i for i, known in enumerate(self.response["output"]) if known is item)

    def _message(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The open message item, opened (with its added event) if none is."""
        if self._text is not None:
            return self._text, []
        self._text = {
            "type": "message",
            "id": new_id("msg"),
            "role": "assistant",
            "status": "in_progress",
            "content": [],
        }
        return self._text, [self._add_item(self._text)]

    def _part(self, message: dict[str, Any], kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        parts = message["content"]
        if parts and parts[-1]["type"] == kind:
            return parts[-1], []
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        if kind == "refusal":
            part = {"type": "refusal", "refusal": ""}
        parts.append(part)
        where = {"item_id": message["id"], "output_index": self._index(message), "content_index": len(parts) - 1}
        return part, [self._event("response.content_part.added", **where, part=part)]

    def _text_delta(self, text: str) -> list[dict[str, Any]]:
        message, events = self._message()
        part, added = self._part(message, "output_text")
        part["text"] += text
        where = {
            "item_id": message["id"],
            "output_index": self._index(message),
            "content_index": len(message["content"]) - 1,
        }
        return [*events, *added, self._event("response.output_text.delta", **where, delta=text, logprobs=[])]

    def _refusal(self, text: str) -> list[dict[str, Any]]:
        message, events = self._message()
        part, added = self._part(message, "refusal")
        part["refusal"] += text
        where = {
            "item_id": message["id"],
            "output_index": self._index(message),
            "content_index": len(message["content"]) - 1,
        }
        return [*events, *added, self._event("response.refusal.delta", **where, delta=text)]

    def _call_delta(self, call: dict[str, Any]) -> list[dict[str, Any]]:
        index = int(call.get("index") or 0)
        function = call.get("function") or {}
        events: list[dict[str, Any]] = []
        item = self._calls.get(index)
        if item is None:
            events += self._close_message("completed")  # the text comes before the calls
            item = {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": call.get("id") or new_id("call"),
                "name": function.get("name", ""),
                "arguments": "",
                "status": "in_progress",
            }
            self._calls[index] = item
            events.append(self._add_item(item))
        if function.get("arguments"):
            item["arguments"] += function["arguments"]
            where = {"item_id": item["id"], "output_index": self._index(item)}
            events.append(self._event("response.function_call_arguments.delta", **where, delta=function["arguments"]))
        return events

    def _close_message(self, status: str) -> list[dict[str, Any]]:
        message, self._text = self._text, None
        if message is None:
            return []
        output_index = self._index(message)
        events = []
        for content_index, part in enumerate(message["content"]):
            where = {"item_id": message["id"], "output_index": output_index, "content_index": content_index}
            if part["type"] == "output_text":
                events.append(self._event("response.output_text.done", **where, text=part["text"], logprobs=[]))
            else:
                events.append(self._event("response.refusal.done", **where, refusal=part["refusal"]))
            events.append(self._event("response.content_part.done", **where, part=part))
        message["status"] = status
        events.append(self._event("response.output_item.done", output_index=output_index, item=message))
        return events

    def _close_all(self, status: str) -> list[dict[str, Any]]:
        events = self._close_message(status)
        for item in self._calls.values():
            where = {"item_id": item["id"], "output_index": self._index(item)}
            events.append(
                self._event(
                    "response.function_call_arguments.done", **where, name=item["name"], arguments=item["arguments"]
                )
            )
            item["status"] = "completed"
            events.append(self._event("response.output_item.done", output_index=where["output_index"], item=item))
        self._calls = {}
        return events
