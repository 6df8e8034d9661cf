"""The Messages API ⇄ Chat Completions translation (:mod:`app.server.dialects.anthropic` and ``_stream``)."""

from __future__ import annotations

import json

import pytest

from app.server.dialects.anthropic import MessagesRequest, to_chat_request, to_message
from app.server.dialects.anthropic_stream import MessageStream
from core.errors import ParameterError


def _request(**fields) -> MessagesRequest:
    return MessagesRequest.model_validate(
        {"model": "m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def _sse(*chunks) -> bytes:
    return b"".join(b"data: " + (c if isinstance(c, bytes) else json.dumps(c).encode()) + b"\n\n" for c in chunks)


def _events(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in raw.decode().strip().split("\n\n"):
        name, data = block.split("\n")
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def test_user_text_and_tool_results_become_tool_messages_first():
    body = _request(
        messages=[
            {"role": "user", "content": "where is 5"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 5}}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and then?"},
                    {"type": "tool_result", "tool_use_id": "t1", "content": "done"},
                ],
            },
        ]
    )
    messages = [m.model_dump(exclude_none=True) for m in to_chat_request(body).messages]
    assert messages[1] == {
        "role": "assistant",
        "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a": 5}'}}],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "t1", "content": "done"}
    assert messages[3] == {"role": "user", "content": "and then?"}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_a": 1}, "top_a"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking"),
        ({"metadata": {"team": "x"}}, "metadata.team"),
        ({"tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"service_tier": "standard_only"}, "service_tier"),
        (
            {"messages": [{"role": "user", "content": [{"type": "document", "source": {}}]}]},
            "messages[0].content[0].type",
        ),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "{"}]}, "messages[1]"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": "x", "color": "red"}]}]},
            "messages[0].content[0].color",
        ),
    ],
)
def test_a_field_that_cannot_be_honoured_is_refused_by_name(fields, param):
    with pytest.raises(ParameterError) as refused:
        to_chat_request(_request(**fields))
    assert refused.value.param == param
    assert str(refused.value).startswith(param)


def test_what_changes_no_answer_is_accepted_and_top_k_is_forwarded():
    cached = {"type": "ephemeral"}
    body = _request(
        cache_control=cached,
        service_tier="auto",
        top_k=5,
        system=[{"type": "text", "text": "a", "cache_control": cached}, {"type": "text", "text": "b"}],
        tools=[{"name": "f", "input_schema": {"type": "object"}, "cache_control": cached}],
    )
    chat = to_chat_request(body)
    assert chat.messages[0].content == "a\n\nb"
    assert chat.forwarded_fields()["top_k"] == 5
    assert chat.tools == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_a_tool_call_answer_becomes_a_tool_use_block():
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    answer = {
        "id": "chatcmpl-abc",
        "model": "m",
        "choices": [{"message": {"content": None, "tool_calls": [call]}, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2},
        "modelyard_route": {"model": "m"},
    }
    message = to_message(answer)
    assert message["id"] == "msg_abc" and message["stop_reason"] == "tool_use"
    assert message["content"] == [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}]
    assert message["modelyard_route"] == {"model": "m"}


def test_a_stream_with_text_then_a_tool_call():
    head = {"id": "chatcmpl-9", "model": "m"}
    raw = _sse(
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {**head, "choices": [{"index": 0, "delta": {"content": "Let me look."}}]},
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}]},
                }
            ],
        },
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}}]},
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {**head, "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}, "modelyard_route": {"x": 1}},
        b"[DONE]",
    )
    stream = MessageStream()
    half = len(raw) // 2  # an event cut across two pieces
    events = _events(stream.feed(raw[:half]) + stream.feed(raw[half:]))
    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[0][1]["message"]["id"] == "msg_9"
    assert events[4][1]["content_block"] == {"type": "tool_use", "id": "c1", "name": "f", "input": {}}
    assert (
        "".join(e["delta"]["partial_json"] for n, e in events if e.get("index") == 1 and n.endswith("delta"))
        == '{"a": 1}'
    )
    assert events[8][1]["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert events[8][1]["usage"] == {"input_tokens": 7, "output_tokens": 3}
    assert events[8][1]["modelyard_route"] == {"x": 1}
    assert stream.finished


def test_an_error_mid_stream_is_an_error_event_and_ends_it():
    stream = MessageStream()
    raw = _sse(
        {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": {"content": "par"}}]},
        {"error": {"message": "upstream went away", "type": "upstream_error"}},
        {"id": "chatcmpl-1", "model": "m", "choices": [{"index": 0, "delta": {"content": "tial"}}]},
        b"[DONE]",
    )
    events = _events(stream.feed(raw))
    assert events[-1] == ("error", {"type": "error", "error": {"type": "api_error", "message": "upstream went away"}})
    assert [name for name, _ in events].count("content_block_delta") == 1
