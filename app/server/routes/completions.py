"""Chat completions through the router, answered as OpenAI JSON or as an SSE stream.

The router decides once (``aroute``: a semantic task classification runs off the event loop),
then the one attempt engine (:mod:`routers.dispatch`) runs the attempts over one of two
transports: the raw OpenAI-HTTP forwarder when every attempt is an OpenAI-protocol deployment,
else the LangChain chat models. Either way the answer is the same OpenAI JSON or chunk stream,
and the request's :class:`~app.server.gateway.lifecycle.Call` is settled once.

The route record of every answer goes into the body as ``modelyard_route`` (the final chunk
when streaming) and, for non-streamed answers, into the ``x-modelyard-route`` header (the
readable reason, percent-encoded so it is ASCII). ``x-modelyard-overhead-ms`` says how long the
request spent in the gateway, upstream waits excluded (for a stream: until its first chunk).

A stream is started only after its first chunk arrived: when every option fails before that,
the caller gets a normal JSON error with the right status instead of a broken stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response, StreamingResponse
from langchain_core.messages import AIMessageChunk, BaseMessage, convert_to_openai_messages

from app.server.gateway.cache import NOT_CONSULTED, CacheLookup
from app.server.gateway.keys import ApiKey, Denial
from app.server.gateway.lifecycle import Call
from app.server.gateway.state import Gateway, gateway
from app.server.http import cache_replay
from app.server.http.auth import check_model_allowed, is_admin, refusal
from app.server.http.errors import ApiError, status_of
from app.server.http.headers import OVERHEAD_HEADER, ROUTE_HEADER, route_header
from app.server.http.schemas import OPTION_FIELDS, ChatCompletionRequest
from app.server.http.sse import render_chunks, usage_of
from app.server.http.timing import arrived
from app.server.http.upstream_text import route_without_upstream_text
from core.errors import ParameterError, RequestError
from routers.dispatch import Routed

__all__ = [
    "OVERHEAD_HEADER",
    "AnswerCheck",
    "ROUTE_HEADER",
    "answer_routed",
    "chat",
    "check_model",
    "complete",
    "fail",
    "route_header",
    "router_input",
    "stream",
    "usage_of",
]

AnswerCheck = Callable[[dict[str, Any]], None]
"""Raises an :class:`ApiError` for a chat answer (OpenAI JSON) a dialect cannot deliver."""


async def chat(
    request: Request,
    body: ChatCompletionRequest,
    key: ApiKey | None,
    endpoint: str = "chat",
    check_answer: AnswerCheck | None = None,
) -> Response:
    """The one request lifecycle of a chat: open the call, check the model, consult the response
    cache, then answer as JSON or SSE. The other API dialects (``/v1/responses``, ``/v1/messages``)
    translate their request into a :class:`ChatCompletionRequest` and their answer from this one;
    ``endpoint`` labels the call in the request log and metrics (``<endpoint>_stream`` when streamed);
    ``check_answer`` (a dialect's) refuses a JSON answer it cannot translate before the call is settled.

    ``key`` comes unadmitted (:data:`~app.server.http.auth.ChatKey`): the request is counted against
    its limits here, once it is known to need serving — with the reservation, in the same round-trip
    to a shared limit store (:func:`reserve`), or before a cache hit is replayed — so a cache miss with
    limits on costs two Redis round-trips (the cache lookup, then admission and hold), not three."""
    gw = gateway(request)
    call = gw.open_call(f"{endpoint}_stream" if body.stream else endpoint, body.model, key, started=arrived(request))
    try:
        check_model(gw, body.model, key)
    except ApiError as exc:
        raise fail(call, exc) from None
    scope = list(key.allowed_models) if key is not None and key.allowed_models else None
    lookup = await gw.cache.lookup(body, request.headers, scope, owner=key.id if key is not None else "")
    call.record.cache = lookup.result
    if lookup.answer is not None:  # served without the router
        if key is not None and (denial := await gw.keys.aadmit(key)) is not None:
            raise fail(call, refusal(denial))
        return cache_replay.replay(body, lookup, call)
    reveal = is_admin(request)  # the provider's text of failed attempts: the admin's and the log's only
    if body.stream:
        return await stream(gw, body, call, key, lookup, reveal=reveal)
    return await complete(gw, body, call, key, lookup, check_answer, reveal=reveal)


def check_model(gw: Gateway, name: str, key: ApiKey | None) -> None:
    """404 unless ``name`` is ``auto`` or an available catalog model (the message lists them);
    403 first when the request's API key may not use it."""
    check_model_allowed(name, key)
    if name == "auto":
        return
    entries = gw.registry.entries()
    available = [e.spec.name for e in entries if e.availability.available]
    if name in available:
        return
    if gw.registry.recheck():  # registered (or brought back) by another process a moment ago?
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


def router_input(body: ChatCompletionRequest, key: ApiKey | None) -> dict[str, Any]:
    """The router input for ``body``, kept to the request's API key's models when it has a list."""
    value = body.router_input()
    if key is not None and key.allowed_models:
        value["allowed_models"] = key.allowed_models
    return value


def fail(call: Call, exc: BaseException, error_class: str | None = None) -> ApiError:
    """Settle ``call`` as failed by ``exc`` (logged as ``error_class``, default its class name);
    the :class:`ApiError` to raise."""
    error = status_of(exc)
    if error_class is None and isinstance(exc, (ApiError, RequestError)) and error.code:
        error_class = error.code  # the caller's mistakes are logged by their code
    if error_class:  # an error code such as model_not_found is logged as ModelNotFound
        error_class = "".join(part.capitalize() for part in error_class.split("_"))
    call.failed(error.status, error_class or exc)
    call.settle()
    return error


def honour_fields(gw: Gateway, body: ChatCompletionRequest, routed: Routed) -> None:
    """Keep only the planned attempts that can honour every forwarded field, or refuse by name.

    The capability fields (tools, response_format, stop, ...) were settled by the router: every planned
    model has the capabilities they need and receives them as call options. Of the other fields, an
    OpenAI-protocol deployment receives every one as given; another model must declare each in its
    parameter schema (it is then passed as a checked parameter). A model that can do neither is left
    out of the plan (the route says so); when none is left, the request is refused with a 400 naming
    the field and the model.
    """
    fields = {name: value for name, value in body.forwarded_fields().items() if name not in OPTION_FIELDS}
    if not fields:
        return

    def missing(entry: Any) -> str | None:
        if gw.forwarder.forwards(entry.spec.provider):
            return None
        return next((name for name in fields if name not in entry.spec.params), None)

    kept = [(entry, deployment) for entry, deployment in routed.attempts if missing(entry) is None]
    if not kept:
        entry = routed.attempts[0][0]
        name = missing(entry)
        raise ParameterError(
            f"model '{entry.spec.name}' ({entry.spec.provider}) cannot honour '{name}': only "
            "OpenAI-protocol deployments receive fields outside a model's parameter schema; name one, "
            "or leave the field out",
            param=name,
        )
    if len(kept) < len(routed.attempts):
        names = list(dict.fromkeys(entry.spec.name for entry, _ in kept))
        routed.record.note("fields", f"needs {', '.join(fields)} → models that take them ({', '.join(names)})")
    routed.attempts[:] = kept
    if not gw.forwardable(kept):
        routed.request.params.update(fields)  # every kept model declares them


async def reserve(gw: Gateway, call: Call, key: ApiKey | None, body: ChatCompletionRequest, routed: Routed) -> None:
    """Admit the request and hold its estimated tokens and cost (the dearest planned model) against
    ``key`` — one round-trip to a shared limit store — or refuse with 402 / 429: concurrent calls can
    overshoot a budget or TPM by one call's estimate at most. A key without a budget or TPM limit is
    only admitted."""
    if key is None:
        return
    if key.stored.budget_usd is None and key.tokens is None:
        if (denial := await gw.keys.aadmit(key)) is not None:
            raise refusal(denial)
        return
    tokens_in = routed.request.prompt_tokens()
    tokens_out = body.max_tokens or body.max_completion_tokens or gw.router.config.cost.expected_output_tokens
    cost = max(entry.spec.cost.of(tokens_in, tokens_out) for entry, _ in routed.attempts)
    held = await gw.keys.areserve(key, tokens_in + tokens_out, cost, admit=True)
    if isinstance(held, Denial):
        raise refusal(held)
    call.reservation = held


def _tokens(message: BaseMessage) -> tuple[int, int]:
    usage = getattr(message, "usage_metadata", None) or {}
    return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))


# ---- JSON ---------------------------------------------------------------------------------------
async def complete(
    gw: Gateway,
    body: ChatCompletionRequest,
    call: Call,
    key: ApiKey | None,
    cache: CacheLookup = NOT_CONSULTED,
    check_answer: AnswerCheck | None = None,
    reveal: bool = True,
) -> Response:
    """Answer a non-streamed chat completion (``check_answer`` may refuse it: the call is then settled
    with that error, and the answer is not cached). Unless ``reveal``, the body's route leaves out the
    provider's text of failed attempts (so does the stored copy a cache hit replays)."""
    try:
        routed = await gw.router.aroute(router_input(body, key))
        honour_fields(gw, body, routed)
        await reserve(gw, call, key, body, routed)
        payload, route = await answer_routed(gw, routed, body.upstream_body(), call)
    except Exception as exc:
        raise fail(call, exc) from exc
    call.answered(route)
    if check_answer is not None:
        try:
            check_answer(payload)
        except ApiError as exc:
            raise fail(call, exc) from None
    call.settle()
    record = call.record
    consumer_route = route_without_upstream_text(route)
    payload.update(id=f"chatcmpl-{route.get('request_id') or record.id}", model=record.model)
    cache.remember({**payload, "modelyard_route": consumer_route}, record)  # a replay may go to anyone
    payload["modelyard_route"] = route if reveal else consumer_route
    headers = {ROUTE_HEADER: route_header(record.route_reason), OVERHEAD_HEADER: f"{call.overhead_ms():.3f}"}
    body_bytes = orjson.dumps(payload)
    return Response(body_bytes, media_type="application/json", headers={**headers, **cache.headers})


async def answer_routed(
    gw: Gateway, routed: Routed, upstream_body: dict[str, Any], call: Call
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAI JSON answer of a decided request and its route record, the usage counted on ``call``:
    forwarded as ``upstream_body`` when every attempt speaks OpenAI's HTTP API, else through the
    LangChain chat models. Chat completions and prompt calls (``routes/prompts.py``) answer through it."""
    if gw.forwardable(routed.attempts):
        return await _forward(gw, routed, upstream_body, call)
    return await _through_langchain(gw, routed, call)


async def _forward(
    gw: Gateway, routed: Routed, upstream_body: dict[str, Any], call: Call
) -> tuple[dict[str, Any], dict[str, Any]]:
    waited = time.perf_counter()
    try:
        payload: dict[str, Any] = await gw.router.engine.ainvoke(routed, gw.forwarder, upstream_body)
    finally:
        call.upstream_s += time.perf_counter() - waited
    usage = payload.get("usage") or {}
    tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cost = _answering_spec(routed).cost.of(tokens_in, tokens_out)
    call.usage(tokens_in, tokens_out, cost)
    usage_metadata = {"input_tokens": tokens_in, "output_tokens": tokens_out}
    return payload, gw.router.finish(routed.record, routed.started, usage_metadata, cost)


async def _through_langchain(gw: Gateway, routed: Routed, call: Call) -> tuple[dict[str, Any], dict[str, Any]]:
    waited = time.perf_counter()
    try:
        message = await gw.router.ainvoke_routed(routed)
    finally:
        call.upstream_s += time.perf_counter() - waited
    tokens_in, tokens_out = _tokens(message)
    call.usage(tokens_in, tokens_out, float(message.response_metadata.get("cost_usd", 0.0) or 0.0))
    choice: dict[str, Any] = {
        "index": 0,
        "message": _openai_message(message),
        "finish_reason": _finish_reason(message),
    }
    if message.response_metadata.get("logprobs") is not None:
        choice["logprobs"] = message.response_metadata["logprobs"]
    payload = {
        "object": "chat.completion",
        "created": int(time.time()),
        "choices": [choice],
        "usage": usage_of(tokens_in, tokens_out),
    }
    return payload, message.response_metadata.get("route", {})


def _openai_message(message: BaseMessage) -> dict[str, Any]:
    """The assistant message in OpenAI's shape: text, or ``content: null`` beside tool calls."""
    converted = convert_to_openai_messages(message)
    assert isinstance(converted, dict)
    text = message.text
    out: dict[str, Any] = {"role": "assistant", "content": text if text or not converted.get("tool_calls") else None}
    if converted.get("tool_calls"):
        out["tool_calls"] = converted["tool_calls"]
    return out


def _finish_reason(message: BaseMessage) -> str:
    reason = message.response_metadata.get("finish_reason")
    if getattr(message, "tool_calls", None):
        return "tool_calls"
    return str(reason or "stop")


def _tool_call_deltas(piece: AIMessageChunk) -> list[dict[str, Any]]:
    """A chunk's tool-call pieces as OpenAI ``delta.tool_calls`` entries (name and id first, then arguments)."""
    deltas = []
    for position, part in enumerate(piece.tool_call_chunks):
        delta: dict[str, Any] = {"index": part.get("index") if part.get("index") is not None else position}
        if part.get("id"):
            delta.update(id=part["id"], type="function")
        function = {key: part[key] for key in ("name", "args") if part.get(key) is not None}
        delta["function"] = {"name": function["name"]} if "name" in function else {}
        delta["function"]["arguments"] = function.get("args", "")
        deltas.append(delta)
    return deltas


def _answering_spec(routed: Routed) -> Any:
    name = routed.record.model
    return next(entry.spec for entry, _ in routed.attempts if entry.spec.name == name)


# ---- SSE ----------------------------------------------------------------------------------------
async def stream(
    gw: Gateway,
    body: ChatCompletionRequest,
    call: Call,
    key: ApiKey | None,
    cache: CacheLookup = NOT_CONSULTED,
    reveal: bool = True,
) -> StreamingResponse:
    """Answer a streamed chat completion (``chat.completion.chunk`` events, then ``[DONE]``)."""
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    try:
        routed = await gw.router.aroute(router_input(body, key))
        honour_fields(gw, body, routed)
        await reserve(gw, call, key, body, routed)
        if gw.forwardable(routed.attempts):
            chunks = _forwarded_chunks(gw, routed, body)
            finish = _forwarded_finish(gw, routed)
        else:
            chunks, finish = _langchain_chunks(gw, routed)
        waited = time.perf_counter()
        try:
            first = await anext(chunks)
        finally:
            call.upstream_s += time.perf_counter() - waited
    except Exception as exc:
        raise fail(call, exc) from exc
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no", OVERHEAD_HEADER: f"{call.overhead_ms():.3f}"}
    return StreamingResponse(
        render_chunks(call, first, chunks, finish, include_usage, routed.request.prompt_tokens(), reveal=reveal),
        media_type="text/event-stream",
        headers={**headers, **cache.headers},
    )


async def _forwarded_chunks(gw: Gateway, routed: Routed, body: ChatCompletionRequest) -> AsyncIterator[dict[str, Any]]:
    async for chunk in gw.router.engine.astream(routed, gw.forwarder, body.upstream_body()):
        chunk["model"] = routed.record.model  # the catalog name, not the upstream's model id
        yield chunk


def _forwarded_finish(gw: Gateway, routed: Routed) -> Any:
    def finish(tokens_in: int, tokens_out: int) -> tuple[dict[str, Any], float]:
        cost = _answering_spec(routed).cost.of(tokens_in, tokens_out)
        usage = {"input_tokens": tokens_in, "output_tokens": tokens_out}
        return gw.router.finish(routed.record, routed.started, usage, cost), cost

    return finish


def _langchain_chunks(gw: Gateway, routed: Routed) -> tuple[AsyncIterator[dict[str, Any]], Any]:
    """The router's message chunks as OpenAI chunk dicts, and the finish callback for the renderer."""
    done: dict[str, Any] = {"route": {}, "cost": 0.0}

    async def chunks() -> AsyncIterator[dict[str, Any]]:
        created = int(time.time())

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            return {
                "object": "chat.completion.chunk",
                "created": created,
                "model": routed.record.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }

        tokens_in = tokens_out = 0
        pieces = gw.router.astream_routed(routed)
        try:
            piece: BaseMessage | None = await anext(pieces)  # a failure before it is still a JSON error
            yield chunk({"role": "assistant", "content": ""})
            finish_reason = "stop"
            while piece is not None:
                if piece.text:
                    yield chunk({"content": piece.text})
                if isinstance(piece, AIMessageChunk):
                    if piece.tool_call_chunks:
                        finish_reason = "tool_calls"
                        yield chunk({"tool_calls": _tool_call_deltas(piece)})
                    elif piece.response_metadata.get("finish_reason") and finish_reason != "tool_calls":
                        finish_reason = str(piece.response_metadata["finish_reason"])
                    got_in, got_out = _tokens(piece)
                    tokens_in, tokens_out = tokens_in + got_in, tokens_out + got_out
                done["cost"] += float(piece.response_metadata.get("cost_usd", 0.0) or 0.0)
                done["route"] = piece.response_metadata.get("route", done["route"])
                piece = await anext(pieces, None)
        finally:
            await pieces.aclose()  # type: ignore[attr-defined]
        yield chunk({}, finish_reason)
        yield {**chunk({}), "choices": [], "usage": usage_of(tokens_in, tokens_out)}

    def finish(_: int, __: int) -> tuple[dict[str, Any], float]:
        return done["route"], done["cost"]

    return chunks(), finish
