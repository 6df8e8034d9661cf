"""The Responses dialect's pure translation: request items → chat messages, chunks → typed events."""

from __future__ import annotations

import pytest

from app.server.dialects.responses import ResponsesRequest, chat_request, input_items
from app.server.dialects.responses_events import ResponseEvents
from core.errors import ParameterError


def _chat(**fields):
    body = ResponsesRequest(model="m", **fields)
    return chat_request(body, input_items(body))


def test_an_assistant_turn_keeps_its_text_and_its_calls_together():
    items = [
        {"role": "user", "content": "Weather in Oslo and Rome?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "rain"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "sun"}]},
    ]
    messages = [m.model_dump(exclude_none=True) for m in _chat(input=items).messages]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[1]["content"] == [{"type": "text", "text": "Checking."}]
    assert [c["id"] for c in messages[1]["tool_calls"]] == ["c1", "c2"]
    assert messages[3] == {"role": "tool", "tool_call_id": "c2", "content": "sun"}


def test_fields_map_to_their_chat_names():
    chat = _chat(
        input="hi",
        tools=[{"type": "function", "name": "f", "parameters": {"type": "object"}}],
        tool_choice={"type": "function", "name": "f"},
        text={"format": {"type": "json_object"}, "verbosity": "low"},
        reasoning={"effort": "low"},
        max_output_tokens=5,
        stream=True,
    )
    assert chat.tools == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert chat.tool_choice == {"type": "function", "function": {"name": "f"}}
    assert chat.response_format == {"type": "json_object"}
    assert (chat.reasoning_effort, chat.max_tokens, chat.model_extra["verbosity"]) == ("low", 5, "low")
    assert chat.stream and chat.stream_options is not None and chat.stream_options.include_usage


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        ({"input": "hi", "tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format"),
        ({"input": "hi", "prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"input": []}, "input"),
    ],
)
def test_what_cannot_be_translated_is_named(fields, param):
    with pytest.raises(ParameterError) as refused:
        _chat(**fields)
    assert refused.value.param == param


def _chunk(delta=None, finish=None, **extra):
    return {"choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}], **extra}


def test_text_then_a_tool_call_close_the_message_first():
    events = ResponseEvents({"id": "resp_1", "object": "response", "status": "in_progress", "output": []})
    seen = events.start()
    seen += events.feed(_chunk({"role": "assistant", "content": "Let me look."}))
    call = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a"'}}
    seen += events.feed(_chunk({"tool_calls": [call]}))
    seen += events.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}))
    seen += events.feed(_chunk(finish="tool_calls"))
    seen += events.feed({"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 6}, "modelyard_route": {}})
    seen += events.finish()
    kinds = [e["type"] for e in seen]
    assert kinds[
        kinds.index("response.output_text.delta") + 1 : kinds.index("response.function_call_arguments.delta")
    ] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
    ]
    assert [e["sequence_number"] for e in seen] == list(range(len(seen)))
    added = [e["item"] for e in seen if e["type"] == "response.output_item.added"]
    assert added[0]["content"] == [] and added[1]["arguments"] == ""  # as they were when added
    final = seen[-1]["response"]
    assert final["status"] == "completed" and final["usage"]["total_tokens"] == 10
    assert [item["type"] for item in final["output"]] == ["message", "function_call"]
    assert final["output"][1]["arguments"] == '{"a": 1}' and final["output"][1]["call_id"] == "call_1"


def test_a_length_cut_ends_incomplete():
    events = ResponseEvents({"id": "resp_1", "object": "response", "status": "in_progress", "output": []})
    events.start()
    events.feed(_chunk({"content": "one two"}, finish="length"))
    last = events.finish()[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"
