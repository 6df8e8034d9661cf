"""The one SSE renderer: OpenAI ``chat.completion.chunk`` dicts in, ``text/event-stream`` bytes out.

Both dispatch paths hand it the same thing — an async iterator of chunk dicts (the usage chunk
carries ``usage``) plus a ``finish`` callback that turns the final usage into the route record
and the cost — so relabelling, time to first token, where the route goes, in-stream errors,
closing the upstream on disconnect and the one settlement of the call exist once.

The route goes in the last chunk: the usage chunk when the caller asked for
``stream_options.include_usage`` (otherwise it is not sent), else the finish chunk, held back
until the end. A failure after the first chunk travels as an ``{"error": ...}`` event.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from app.server.gateway.lifecycle import Call
from app.server.http.errors import error_body, status_of
from app.server.http.upstream_text import route_without_upstream_text

__all__ = ["Finish", "render_chunks", "settled_stream", "sse", "usage_of"]

Finish = Callable[[int, int], tuple[dict[str, Any], float]]
"""``(input_tokens, output_tokens) -> (route record, cost in USD)``, called once at the end."""


def sse(payload: dict[str, Any] | str) -> str:
    """One server-sent event carrying ``payload`` (JSON, or a bare string such as ``[DONE]``).

    Example:
        >>> sse("[DONE]")
        'data: [DONE]\\n\\n'
    """
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n"


def _event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


async def settled_stream(
    call: Call,
    events: AsyncIterator[bytes],
    source: Any,
    on_cut: Callable[[], None] | None = None,
    reveal: bool = True,
) -> AsyncIterator[bytes]:
    """The one lifecycle of a streamed answer, around the renderer's ``events``.

    The call counts as a client disconnect (499) until ``events`` ends, when it is a 200; an error
    after the first event can only travel inside the stream, as an ``{"error": ...}`` event; the call
    is settled exactly once, and ``source`` (the upstream stream) is closed, also when the client
    went away — which closes the upstream connection. ``on_cut`` runs when the client went away
    first: it charges what was generated until then.
    """
    call.failed(499, "ClientDisconnected")
    try:
        async for event in events:
            yield event
        call.failed(200, "")
    except Exception as exc:
        error = status_of(exc)
        call.failed(error.status, exc)
        message = error.message
        if not reveal and error.status >= 500:  # the provider's own words are for the admin and the log
            message = f"the upstream failed mid-stream ({type(exc).__name__})"
        yield sse(error_body(error.status, message, error.param, error.code)).encode()
    finally:
        if on_cut is not None and call.record.status == 499:
            with contextlib.suppress(Exception):  # an estimate must not hide the disconnect
                on_cut()
        call.settle()
        with contextlib.suppress(Exception):
            await source.aclose()


def render_chunks(
    call: Call,
    first: dict[str, Any],
    rest: AsyncIterator[dict[str, Any]],
    finish: Finish,
    include_usage: bool,
    prompt_tokens: int = 0,
    reveal: bool = True,
) -> AsyncIterator[bytes]:
    """The SSE body of a chat stream whose first chunk ``first`` already arrived.

    ``reveal`` false (a consumer, not the admin): the provider's text of failed attempts is left out of
    the route on the last chunk and of a mid-stream error; the request log keeps it whole.

    A client that goes away early, or a stream whose upstream sent no usage, is charged what was
    generated: ``prompt_tokens`` (the router's estimate) in and the tokens of what was streamed
    out — text, refusals, tool names and arguments, of every choice. Time to first token is the
    first such delta (a tool call's too). With ``n`` > 1 only the last finish chunk is held back
    for the route; the others pass in order.
    """
    streamed: list[str] = []

    def estimate() -> tuple[int, int]:
        from models.tokens import count_tokens

        return prompt_tokens, count_tokens("".join(streamed))

    def charge_what_was_sent() -> None:
        tokens_in, tokens_out = estimate()
        route, cost = finish(tokens_in, tokens_out)
        call.answered(route)
        call.usage(tokens_in, tokens_out, cost)

    events = _chat_events(call, first, rest, finish, include_usage, streamed, estimate, reveal)
    return settled_stream(call, events, rest, on_cut=charge_what_was_sent, reveal=reveal)


async def _chat_events(
    call: Call,
    first: dict[str, Any],
    rest: AsyncIterator[dict[str, Any]],
    finish: Finish,
    include_usage: bool,
    streamed: list[str],
    estimate: Callable[[], tuple[int, int]],
    reveal: bool = True,
) -> AsyncIterator[bytes]:
    chunk_id = f"chatcmpl-{call.record.id}"
    held: dict[str, Any] | None = None
    counted: tuple[int, int] | None = None
    chunk: dict[str, Any] | None = first
    while chunk is not None:
        chunk["id"] = chunk_id
        choices = chunk.get("choices")
        usage = chunk.get("usage")
        if usage:
            counted = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
        if choices:
            if held is not None and not include_usage:  # a finish chunk that was not the last (n > 1)
                yield _event(held)
                held = None
            generated = "".join(_generated_text(choice.get("delta") or {}) for choice in choices)
            if generated:
                call.first_token()
                streamed.append(generated)
            if any(choice.get("finish_reason") for choice in choices) and not include_usage:
                held = chunk
            else:
                chunk.setdefault("model", call.record.model)
                yield _event(chunk)
        elif usage is not None and include_usage:
            held = chunk
        chunk = await anext(rest, None)
    input_tokens, output_tokens = counted or estimate()  # an upstream that ignored stream_options is not free
    route, cost = finish(input_tokens, output_tokens)
    call.answered(route)
    call.usage(input_tokens, output_tokens, cost)
    last = held or {"id": chunk_id, "object": "chat.completion.chunk", "created": int(time.time()), "choices": []}
    last["model"] = call.record.model
    if include_usage or last.get("usage") is not None:
        last["usage"] = usage_of(input_tokens, output_tokens)
    last["modelyard_route"] = route if reveal else route_without_upstream_text(route)
    yield _event(last) + b"data: [DONE]\n\n"


def _generated_text(delta: dict[str, Any]) -> str:
    """What a delta adds to the answer: text, a refusal, tool names and arguments (all are generated tokens).

    Example:
        >>> _generated_text({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": '{"a"'}}]})
        'f{"a"'
    """
    pieces = [delta.get("content") or "", delta.get("refusal") or ""]
    for tool_call in delta.get("tool_calls") or []:
        function = tool_call.get("function") or {}
        pieces += [function.get("name") or "", function.get("arguments") or ""]
    return "".join(pieces)


def usage_of(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` object.

    Example:
        >>> usage_of(3, 2)
        {'prompt_tokens': 3, 'completion_tokens': 2, 'total_tokens': 5}
    """
    total = input_tokens + output_tokens
    return {"prompt_tokens": input_tokens, "completion_tokens": output_tokens, "total_tokens": total}
