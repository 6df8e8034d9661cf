"""A cached chat answer served again: OpenAI JSON or a short SSE stream, costing nothing.

The router is not called. The body is the stored one with a fresh ``id`` and ``created``; its
``modelyard_route`` is the original route plus ``"cache": {"result", "saved_usd", "age_s"}``
(and ``similarity`` for a semantic hit). A streamed request gets the stored answer as the chunks
a live stream would have carried, as one small body: per choice (all ``n`` of them) a role chunk,
the whole text in one content chunk with its ``logprobs``, a ``refusal`` chunk, one chunk per tool
call (id, name and all of its arguments) and the choice's finish chunk; then the usage chunk when
``stream_options.include_usage``, and ``[DONE]``. The route rides on the last chunk, as in a live
stream. The request log gets a row with the original model and deployment, ``cost_usd=0``, no
tokens (no provider processed any) and ``cache`` set.

Only answers that both forms render faithfully are stored (:func:`replayable`): a message field
this module cannot stream (audio, a legacy ``function_call``, a custom tool call) keeps its
answer out of the cache instead of being lost on a replay; so does a tool call whose arguments are
not a JSON object.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson
from fastapi.responses import Response

from app.server.gateway.lifecycle import Call
from app.server.http.headers import OVERHEAD_HEADER, ROUTE_HEADER, route_header
from app.server.http.schemas import ChatCompletionRequest

if TYPE_CHECKING:  # cache.py asks replayable() before storing; at run time only this module imports the other
    from app.server.gateway.cache import CacheLookup

__all__ = ["replay", "replayable", "sse_body"]

_MESSAGE_FIELDS = frozenset({"role", "content", "refusal", "tool_calls"})
"""Message fields a replayed stream carries as deltas (``annotations`` only when empty)."""
_CHOICE_FIELDS = frozenset({"index", "message", "finish_reason", "logprobs"})
_CHUNK_HEAD_FIELDS = ("system_fingerprint", "service_tier")
"""Top-level answer fields repeated on every replayed chunk, as OpenAI streams them."""


def replayable(payload: dict[str, Any]) -> bool:
    """Whether :func:`replay` renders ``payload`` faithfully as JSON *and* as SSE.

    Example:
        >>> call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        >>> replayable({"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}}]})
        True
        >>> replayable({"choices": [{"index": 0, "message": {"role": "assistant", "audio": {"id": "a1"}}}]})
        False
        >>> broken = {**call, "function": {"name": "f", "arguments": '{"order": 10'}}
        >>> replayable({"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [broken]}}]})
        False
    """
    choices = payload.get("choices")
    if not isinstance(choices, list) or not choices:
        return False
    return all(_choice_replayable(choice) for choice in choices)


def _choice_replayable(choice: Any) -> bool:
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        return False
    message = choice["message"]
    if _given(choice) - _CHOICE_FIELDS or _given(message) - _MESSAGE_FIELDS:
        return False
    return all(_call_replayable(call) for call in message.get("tool_calls") or [])


def _call_replayable(call: Any) -> bool:
    """A function call whose arguments are a JSON object: a broken one is not kept, so a retry gets a
    fresh try (and ``/v1/messages``, which must parse them, never replays one)."""
    if not isinstance(call, dict) or call.get("type", "function") != "function":
        return False
    function = call.get("function")
    if not isinstance(function, dict):
        return False
    try:
        return isinstance(orjson.loads(function.get("arguments") or "{}"), dict)
    except orjson.JSONDecodeError:
        return False


def _given(fields: dict[str, Any]) -> set[str]:
    """The keys of ``fields`` that carry something (``None``, ``[]`` and ``{}`` carry nothing)."""
    return {name for name, value in fields.items() if value not in (None, [], {})}


def replay(body: ChatCompletionRequest, lookup: CacheLookup, call: Call) -> Response:
    """The response for a cache hit (``lookup.answer`` must be set); settles ``call`` at 0 USD."""
    answer = lookup.answer
    assert answer is not None, "replay() needs a hit"
    saved: dict[str, Any] = {
        "result": lookup.result,
        "saved_usd": answer.cost_usd,
        "age_s": round(time.time() - answer.stored_at, 3),
    }
    if lookup.similarity is not None:
        saved["similarity"] = lookup.similarity
    route = {**answer.payload.get("modelyard_route", {}), "cache": saved}
    call.answered({"model": answer.model, "deployment": answer.deployment, "reason": answer.route_reason})
    payload = {
        **answer.payload,
        "id": f"chatcmpl-{call.record.id}",
        "created": int(time.time()),
        "modelyard_route": route,
    }
    headers = {
        ROUTE_HEADER: route_header(answer.route_reason),
        OVERHEAD_HEADER: f"{call.overhead_ms():.3f}",
        **lookup.headers,
    }
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        response = Response(
            sse_body(payload, include_usage),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
    else:
        response = Response(orjson.dumps(payload), media_type="application/json", headers=headers)
    call.settle()
    return response


def sse_body(payload: dict[str, Any], include_usage: bool) -> bytes:
    """The stored completion ``payload`` as ``chat.completion.chunk`` events and ``[DONE]``.

    Example:
        >>> stored = {"id": "c", "created": 1, "model": "m", "modelyard_route": {}, "usage": {},
        ...           "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
        ...                        "finish_reason": "stop"}]}
        >>> sse_body(stored, include_usage=False).count(b"data: ")
        4
    """
    head = {
        "id": payload["id"],
        "object": "chat.completion.chunk",
        "created": payload["created"],
        "model": payload["model"],
        **{name: payload[name] for name in _CHUNK_HEAD_FIELDS if payload.get(name) is not None},
    }
    chunks = [{**head, "choices": [choice]} for stored in payload["choices"] for choice in _choice_chunks(stored)]
    if include_usage:
        chunks.append({**head, "choices": [], "usage": payload.get("usage")})
    chunks[-1]["modelyard_route"] = payload["modelyard_route"]
    return b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks) + b"data: [DONE]\n\n"


def _choice_chunks(choice: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The streamed choices of one stored choice: role, content (with logprobs), refusal, tool calls, finish."""
    index, message = choice.get("index", 0), choice["message"]

    def delta(fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {"index": index, "delta": fields, "finish_reason": None, **extra}

    yield delta({"role": "assistant", "content": ""})
    logprobs = choice.get("logprobs")
    if message.get("content") or logprobs:
        yield delta({"content": message.get("content") or ""}, **({"logprobs": logprobs} if logprobs else {}))
    if message.get("refusal"):
        yield delta({"refusal": message["refusal"]})
    for position, tool_call in enumerate(message.get("tool_calls") or []):
        yield delta({"tool_calls": [{"index": position, **tool_call}]})
    yield {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason") or "stop"}
