"""A cached chat answer served again: OpenAI JSON or a short SSE stream, costing nothing.

The router is not called. The body is the stored one with a fresh ``id`` and ``created``; its
``modelyard_route`` is the original route plus ``"cache": {"result", "saved_usd", "age_s"}``
(and ``similarity`` for a semantic hit). A streamed request gets the whole answer in one content
chunk, then the finish chunk (and the usage chunk when ``stream_options.include_usage``) and
``[DONE]``, as one small body. The request log gets a row with the original model and
deployment, ``cost_usd=0``, no tokens (no provider processed any) and ``cache`` set.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi.responses import JSONResponse, Response

from app.server.gateway.cache import CacheLookup
from app.server.gateway.lifecycle import Call
from app.server.http.headers import OVERHEAD_HEADER, ROUTE_HEADER, route_header
from app.server.http.schemas import ChatCompletionRequest

__all__ = ["replay"]


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
        response: Response = Response(
            _sse_body(payload, include_usage),
            media_type="text/event-stream",
            headers={**headers, "cache-control": "no-cache"},
        )
    else:
        response = JSONResponse(payload, headers=headers)
    call.settle()
    return response


def _sse_body(payload: dict[str, Any], include_usage: bool) -> str:
    """The stored completion as ``chat.completion.chunk`` events."""
    head = {
        "id": payload["id"],
        "object": "chat.completion.chunk",
        "created": payload["created"],
        "model": payload["model"],
    }
    choice = payload["choices"][0]
    route = payload["modelyard_route"]

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    events = [event({"role": "assistant", "content": ""}), event({"content": choice["message"]["content"]})]
    finish = choice.get("finish_reason") or "stop"
    if include_usage:
        events.append(event({}, finish))
        usage_chunk = {**head, "choices": [], "usage": payload["usage"], "modelyard_route": route}
        events.append(f"data: {json.dumps(usage_chunk, ensure_ascii=False)}\n\n")
    else:
        events.append(event({}, finish, modelyard_route=route))
    events.append("data: [DONE]\n\n")
    return "".join(events)
