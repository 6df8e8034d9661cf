"""Chat completions through the router, answered as OpenAI JSON or as an SSE stream.

The route record of every answer goes into the body as ``modelyard_route`` (the final chunk
when streaming) and, for non-streamed answers, into the ``x-modelyard-route`` header (the
readable reason, percent-encoded so it is ASCII). A streamed response's headers leave before
the route is complete, so streams carry it in the final chunk only.

A stream is started only after its first chunk arrived: when every option fails before that,
the caller gets a normal JSON error with the right status instead of a broken stream.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import orjson
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.messages import BaseMessage

from app.server.auth import check_model_allowed
from app.server.cache import NOT_CONSULTED, CacheLookup
from app.server.errors import ApiError, error_body, status_of
from app.server.keys import current_key
from app.server.passthrough import Forwarded, forwardable
from app.server.request_log import CallRecord
from app.server.schemas import ChatCompletionRequest
from app.server.state import Gateway
from routers.router import Routed

__all__ = [
    "ROUTE_HEADER",
    "account",
    "check_model",
    "complete",
    "failed",
    "route_header",
    "router_input",
    "sse",
    "stream",
    "tally",
    "usage_of",
]

ROUTE_HEADER = "x-modelyard-route"
_HEADER_SAFE = " !#$&'()*+,/:;=?@[]~<>"


def route_header(reason: str) -> str:
    """``reason`` as an ASCII-safe header value (non-ASCII and controls percent-encoded)."""
    return quote(reason, safe=_HEADER_SAFE)


def check_model(gw: Gateway, name: str) -> None:
    """404 unless ``name`` is ``auto`` or an available catalog model (the message lists them);
    403 first when the request's API key may not use it."""
    check_model_allowed(name)
    if name == "auto":
        return
    entries = gw.registry.entries()
    available = [e.spec.name for e in entries if e.availability.available]
    if name in available:
        return
    known = {e.spec.name: e for e in entries}
    why = f" is unavailable ({known[name].availability.reason})" if name in known else " does not exist"
    raise ApiError(
        404,
        f"model '{name}'{why}; available: {', '.join(['auto', *available])}",
        param="model",
        code="model_not_found",
    )


def router_input(body: ChatCompletionRequest) -> dict[str, Any]:
    """The router input for ``body``, kept to the request's API key's models when it has a list."""
    value = body.router_input()
    key = current_key.get()
    if key is not None and key.allowed_models:
        value["allowed_models"] = key.allowed_models
    return value


def account(gw: Gateway, call: CallRecord) -> None:
    """Metrics, the request log and the API key's tokens and spend for one call; never raises."""
    key = current_key.get()
    if key is not None:
        call.key_id = call.key_id or key.id
        gw.keys.charge(key, call.input_tokens + call.output_tokens, call.cost_usd)
    try:
        gw.metrics.observe(call)
    except Exception:  # accounting must not fail a request
        pass
    gw.log.write(call)


def _usage(message: BaseMessage) -> tuple[int, int]:
    usage = getattr(message, "usage_metadata", None) or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


def usage_of(call: CallRecord) -> dict[str, int]:
    """OpenAI's ``usage`` object for ``call``'s tokens."""
    return {
        "prompt_tokens": call.input_tokens,
        "completion_tokens": call.output_tokens,
        "total_tokens": call.input_tokens + call.output_tokens,
    }


def failed(gw: Gateway, call: CallRecord, started: float, exc: BaseException) -> ApiError:
    """Account ``call`` as failed by ``exc``; the :class:`ApiError` to raise."""
    error = status_of(exc)
    call.status, call.error_class = error.status, type(exc).__name__
    call.latency_s = time.perf_counter() - started
    account(gw, call)
    return error


async def complete(gw: Gateway, body: ChatCompletionRequest, cache: CacheLookup = NOT_CONSULTED) -> JSONResponse:
    """Answer a non-streamed chat completion (forwarded as JSON when every attempt speaks OpenAI's API)."""
    started = time.perf_counter()
    call = CallRecord(endpoint="chat", model=body.model, cache=cache.result)
    try:
        routed = gw.router.route(router_input(body))
        if forwardable(routed):
            payload, route = await _forward(gw, routed, body, call)
        else:
            payload, route = await _through_langchain(gw, routed, call)
    except Exception as exc:
        raise failed(gw, call, started, exc) from exc
    call.model, call.deployment = route.get("model", body.model), route.get("deployment", "")
    call.route_reason = route.get("reason", "")
    call.latency_s = time.perf_counter() - started
    account(gw, call)
    payload.update(id=f"chatcmpl-{route.get('request_id') or call.id}", model=call.model, modelyard_route=route)
    cache.remember(payload, call)
    return JSONResponse(payload, headers={ROUTE_HEADER: route_header(call.route_reason), **cache.headers})


async def _forward(
    gw: Gateway, routed: Routed, body: ChatCompletionRequest, call: CallRecord
) -> tuple[dict[str, Any], dict[str, Any]]:
    payload, done = await gw.passthrough.complete(routed, body.upstream_body())
    call.input_tokens, call.output_tokens, call.cost_usd = done.input_tokens, done.output_tokens, done.cost_usd
    return payload, gw.passthrough.finish(routed, done)


async def _through_langchain(gw: Gateway, routed: Routed, call: CallRecord) -> tuple[dict[str, Any], dict[str, Any]]:
    message = await gw.router.ainvoke_routed(routed)
    call.input_tokens, call.output_tokens = _usage(message)
    call.cost_usd = float(message.response_metadata.get("cost_usd", 0.0) or 0.0)
    payload = {
        "object": "chat.completion",
        "created": int(time.time()),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": message.text},
                "finish_reason": message.response_metadata.get("finish_reason", "stop"),
            }
        ],
        "usage": usage_of(call),
    }
    return payload, message.response_metadata.get("route", {})


async def stream(gw: Gateway, body: ChatCompletionRequest, cache: CacheLookup = NOT_CONSULTED) -> StreamingResponse:
    """Answer a streamed chat completion (``chat.completion.chunk`` events, then ``[DONE]``)."""
    started = time.perf_counter()
    call = CallRecord(endpoint="chat_stream", model=body.model, cache=cache.result)  # streams are not stored
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    try:
        routed = gw.router.route(router_input(body))
        if forwardable(routed):
            forwarded = gw.passthrough.stream(routed, body.upstream_body())
            first_forwarded = await anext(forwarded)
            events = _forwarded_events(gw, routed, call, started, first_forwarded, forwarded, include_usage)
        else:
            chunks = gw.router.astream_routed(routed)
            first = await anext(chunks)
            events = _events(gw, body.model, call, started, first, chunks, include_usage)
    except Exception as exc:
        raise failed(gw, call, started, exc) from exc
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no", **cache.headers},
    )


async def _forwarded_events(
    gw: Gateway,
    routed: Routed,
    call: CallRecord,
    started: float,
    first: tuple[dict[str, Any], Forwarded],
    rest: AsyncIterator[tuple[dict[str, Any], Forwarded]],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The upstream's chunks, re-labelled with our id and catalog model name; the route goes in the
    last chunk (the usage chunk when asked for, else the finish chunk, held back until the end)."""
    chunk_id = f"chatcmpl-{call.id}"
    done = first[1]
    held: dict[str, Any] | None = None
    call.status, call.error_class = 499, "ClientDisconnected"  # until the stream ends one way or another
    try:
        item: tuple[dict[str, Any], Forwarded] | None = first
        while item is not None:
            chunk, done = item
            chunk["id"], chunk["model"] = chunk_id, done.entry.spec.name
            choices = chunk.get("choices")
            if choices:
                if call.ttft_s is None and (choices[0].get("delta") or {}).get("content"):
                    call.ttft_s = time.perf_counter() - started
                if choices[0].get("finish_reason") and not include_usage:
                    held = chunk
                else:
                    yield b"data: " + orjson.dumps(chunk) + b"\n\n"
            elif chunk.get("usage") is not None and include_usage:
                held = chunk
            item = await anext(rest, None)
        route = gw.passthrough.finish(routed, done)
        call.model, call.deployment, call.route_reason = route["model"], route["deployment"], route["reason"]
        call.input_tokens, call.output_tokens, call.cost_usd = done.input_tokens, done.output_tokens, done.cost_usd
        call.status, call.error_class = 200, ""
        last = held or {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
            "choices": [],
        }
        last["modelyard_route"] = route
        yield b"data: " + orjson.dumps(last) + b"\n\ndata: [DONE]\n\n"
    except Exception as exc:  # after the first chunk an error can only travel inside the stream
        error = status_of(exc)
        call.status, call.error_class = error.status, type(exc).__name__
        yield sse(error_body(error.status, error.message, error.param, error.code)).encode()
    finally:  # also on client disconnect: closing the forwarded stream closes the upstream connection
        call.latency_s = time.perf_counter() - started
        account(gw, call)
        with contextlib.suppress(Exception):
            await rest.aclose()  # type: ignore[attr-defined]


def sse(payload: dict[str, Any] | str) -> str:
    """One server-sent event carrying ``payload`` (JSON, or a bare string such as ``[DONE]``)."""
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


async def _events(
    gw: Gateway,
    requested: str,
    call: CallRecord,
    started: float,
    first: BaseMessage,
    rest: AsyncIterator[BaseMessage],
    include_usage: bool,
) -> AsyncIterator[str]:
    head = {
        "id": f"chatcmpl-{call.id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": requested,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        return sse({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    route: dict[str, Any] = {}
    call.status, call.error_class = 499, "ClientDisconnected"  # until the stream ends one way or another
    try:
        yield chunk({"role": "assistant", "content": ""})
        piece: BaseMessage | None = first
        while piece is not None:
            if piece.text:
                if call.ttft_s is None:
                    call.ttft_s = time.perf_counter() - started
                yield chunk({"content": piece.text})
            tally(call, piece)
            route = piece.response_metadata.get("route", route)
            piece = await anext(rest, None)
        call.model, call.deployment = route.get("model", requested), route.get("deployment", "")
        call.route_reason, call.status, call.error_class = route.get("reason", ""), 200, ""
        head["model"] = call.model
        usage = usage_of(call)
        if include_usage:
            yield chunk({}, "stop")
            yield sse({**head, "choices": [], "usage": usage, "modelyard_route": route})
        else:
            yield chunk({}, "stop", modelyard_route=route)
        yield sse("[DONE]")
    except Exception as exc:  # after the first chunk an error can only travel inside the stream
        error = status_of(exc)
        call.status, call.error_class = error.status, type(exc).__name__
        yield sse(error_body(error.status, error.message, error.param, error.code))
    finally:  # also on client disconnect: closing the router's stream closes the upstream call
        call.latency_s = time.perf_counter() - started
        account(gw, call)
        with contextlib.suppress(Exception):
            await rest.aclose()  # type: ignore[attr-defined]


def tally(call: CallRecord, piece: BaseMessage) -> None:
    """Add a streamed chunk's tokens and cost to ``call``."""
    tokens_in, tokens_out = _usage(piece)
    call.input_tokens += tokens_in
    call.output_tokens += tokens_out
    call.cost_usd += float(piece.response_metadata.get("cost_usd", 0.0) or 0.0)
