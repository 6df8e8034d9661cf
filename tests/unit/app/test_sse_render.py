"""The one SSE renderer over chunk streams shaped like an OpenAI upstream's: several choices, tool-call
deltas, an upstream that sends no usage, and a client that goes away in the middle of a tool call."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from app.server.gateway.lifecycle import Call
from app.server.http.sse import render_chunks
from models.tokens import count_tokens
from store.request_log import CallRecord

ROUTE = {"model": "m", "deployment": "d", "reason": "named"}
ARGUMENTS = '{"order_id": 1042, "note": "leave it with the neighbour"}'


def _chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"object": "chat.completion.chunk", "choices": [{"index": index, "delta": delta, "finish_reason": finish}]}


def _tool_call_chunks() -> list[dict[str, Any]]:
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "order_status", "arguments": ""}}
    half = len(ARGUMENTS) // 2
    return [
        _chunk(0, {"role": "assistant", "content": None}),
        _chunk(0, {"tool_calls": [head]}),
        _chunk(0, {"tool_calls": [{"index": 0, "function": {"arguments": ARGUMENTS[:half]}}]}),
        _chunk(0, {"tool_calls": [{"index": 0, "function": {"arguments": ARGUMENTS[half:]}}]}),
        _chunk(0, {}, "tool_calls"),
    ]


class Upstream:
    """The chunks of one upstream stream, and whether the renderer closed it."""

    def __init__(self, chunks: list[dict[str, Any]]):
        self.chunks, self.closed = chunks, False

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if not self.chunks:
            raise StopAsyncIteration
        return self.chunks.pop(0)

    async def aclose(self) -> None:
        self.closed = True


def _render(chunks: list[dict[str, Any]], include_usage: bool, take: int | None = None) -> tuple[list[Any], Call]:
    """Run the renderer; ``take`` events, then go away like a client (``None``: read to the end)."""
    settled: list[CallRecord] = []
    call = Call(settled.append, "chat_stream", "m")
    finished: list[tuple[int, int]] = []

    def finish(tokens_in: int, tokens_out: int) -> tuple[dict[str, Any], float]:
        finished.append((tokens_in, tokens_out))
        return ROUTE, 0.001 * (tokens_in + tokens_out)

    async def read() -> list[Any]:
        upstream = Upstream(chunks[1:])
        events = render_chunks(call, chunks[0], upstream, finish, include_usage, prompt_tokens=12)
        seen: list[Any] = []
        async for event in events:
            seen.extend(line[6:] for line in event.decode().split("\n\n") if line.startswith("data: "))
            if take is not None and len(seen) >= take:
                break
        await events.aclose()  # type: ignore[attr-defined]
        assert upstream.closed
        return [item if item == "[DONE]" else json.loads(item) for item in seen]

    events = asyncio.run(read())
    assert settled == [call.record]  # settled exactly once
    return events, call


def test_every_choice_keeps_its_finish_chunk_and_the_route_rides_on_the_last():
    chunks = [
        _chunk(0, {"role": "assistant", "content": ""}),
        _chunk(0, {"content": "one"}),
        _chunk(1, {"content": "two"}),
        _chunk(0, {}, "stop"),
        _chunk(1, {}, "length"),
        {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 2}},
    ]
    events, call = _render(chunks, include_usage=False)
    assert events[-1] == "[DONE]"
    data = events[:-1]
    finishes = [(c["choices"][0]["index"], c["choices"][0]["finish_reason"]) for c in data if c["choices"]]
    assert finishes[-2:] == [(0, "stop"), (1, "length")]
    assert [("modelyard_route" in c) for c in data] == [False] * (len(data) - 1) + [True]
    assert (call.record.input_tokens, call.record.output_tokens, call.record.status) == (4, 2, 200)


def test_a_tool_call_marks_the_first_token_and_without_upstream_usage_is_still_counted():
    events, call = _render(_tool_call_chunks(), include_usage=True)
    assert call.record.ttft_s is not None  # the first generated delta was a tool call's
    usage = events[-2]["usage"]
    generated = count_tokens("order_status" + ARGUMENTS)
    assert usage == {"prompt_tokens": 12, "completion_tokens": generated, "total_tokens": 12 + generated}
    assert (call.record.output_tokens, call.record.cost_usd) == (generated, 0.001 * (12 + generated))
    assert events[-2]["modelyard_route"] == ROUTE and events[-3]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_client_gone_during_a_tool_call_is_charged_the_arguments_sent():
    events, call = _render(_tool_call_chunks(), include_usage=False, take=3)  # role, name, first half
    assert [e["choices"][0]["delta"] for e in events][1]["tool_calls"][0]["function"]["name"] == "order_status"
    assert call.record.status == 499
    assert call.record.output_tokens == count_tokens("order_status" + ARGUMENTS[: len(ARGUMENTS) // 2])
    assert call.record.model == "m" and call.record.cost_usd > 0
