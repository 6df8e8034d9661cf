"""``/v1/responses`` end to end: the official ``openai`` client's ``responses`` API against the gateway
on a loopback port, whose catalog model is the honest fake upstream (it records every chat body and
answers from it: a call to a declared tool with schema-fitting arguments, JSON fitting a schema, the
tool result quoted). Two consumer keys check that stored responses stay with their key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "responses-admin-secret"
ORDER_PARAMETERS = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}},
    "required": ["order_id"],
    "additionalProperties": False,
}
TOOLS = [
    {
        "type": "function",
        "name": "order_status",
        "description": "Where an order is",
        "parameters": ORDER_PARAMETERS,
        "strict": True,
    }
]
PNG = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Served:
    url: str
    upstream: FakeUpstream
    secrets: tuple[str, str]

    def client(self, which: int = 0) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.secrets[which], max_retries=0)

    def chat_bodies(self) -> list[dict]:
        return [r.body for r in self.upstream.requests if r.path.endswith("/chat/completions")]

    def last_chat_body(self) -> dict:
        return self.chat_bodies()[-1]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("responses")
    with FakeUpstream() as upstream:
        spec = ModelSpec(
            name="hosted",
            provider="openai",
            tasks=["chit_chat"],
            modalities={"input": ["text", "image"]},
            params={"temperature": {"min": 0, "max": 2}, "top_p": {"min": 0, "max": 1}, "max_tokens": {"min": 1}},
            deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt", "timeout": 5}],
        )
        with serving(gateway_app(folder, [spec], master_key=ADMIN_KEY)) as url:
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            secrets = [httpx.post(f"{url}/api/keys", headers=admin, json={"name": n}).json()["secret"] for n in "ab"]
            yield Served(url, upstream, (secrets[0], secrets[1]))


def test_a_string_input_with_instructions(served):
    reply = served.client().responses.create(model="hosted", input="Hello there", instructions="Answer briefly.")
    assert reply.id.startswith("resp_") and reply.object == "response" and reply.status == "completed"
    assert reply.output_text == "echo: Hello there"
    assert reply.model == "hosted"  # the catalog name, not the upstream's model id
    assert reply.output[0].type == "message" and reply.output[0].content[0].type == "output_text"
    usage = reply.usage
    assert usage.input_tokens > 0 and usage.output_tokens == 3 and usage.total_tokens == usage.input_tokens + 3
    assert reply.model_extra["modelyard_route"]["model"] == "hosted"
    sent = served.last_chat_body()
    assert sent["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "text", "text": "Hello there"}]},
    ]
    assert sent["model"] == "fake-gpt"


def test_message_items_with_an_image_and_sampling_fields(served):
    items = [
        {"role": "developer", "content": "Describe images."},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "What is this?"}, {"type": "input_image", "image_url": PNG}],
        },
    ]
    reply = served.client().responses.create(
        model="hosted", input=items, temperature=0.2, top_p=0.9, user="u-7", metadata={"team": "support"}
    )
    assert reply.output_text.rstrip() == "echo: What is this?"  # the fake joins the text of every part
    sent = served.last_chat_body()
    assert sent["messages"][0] == {"role": "developer", "content": "Describe images."}
    assert sent["messages"][1]["content"][1] == {"type": "image_url", "image_url": {"url": PNG}}
    assert (sent["temperature"], sent["top_p"], sent["user"], sent["metadata"]) == (
        0.2,
        0.9,
        "u-7",
        {"team": "support"},
    )
    assert reply.metadata == {"team": "support"} and reply.temperature == 0.2


def test_a_function_tool_loop_continued_with_previous_response_id(served):
    client = served.client()
    first = client.responses.create(model="hosted", input="Where is order 1042?", tools=TOOLS)
    call = first.output[0]
    assert call.type == "function_call" and call.name == "order_status" and first.status == "completed"
    arguments = json.loads(call.arguments)
    jsonschema.validate(arguments, ORDER_PARAMETERS)
    assert arguments == {"order_id": "1042"}
    assert served.last_chat_body()["tools"] == [
        {"type": "function", "function": {k: v for k, v in TOOLS[0].items() if k != "type"}}
    ]

    result = json.dumps({"status": "shipped"})
    second = client.responses.create(
        model="hosted",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": result}],
        tools=TOOLS,
    )
    assert second.output_text == f"order_status said: {result}"
    assert second.previous_response_id == first.id
    messages = served.last_chat_body()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"] == [
        {"id": call.call_id, "type": "function", "function": {"name": "order_status", "arguments": call.arguments}}
    ]
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": result}


class Order(BaseModel):
    order_id: int
    carrier: str


def test_text_format_json_schema_and_parse(served):
    schema = {
        "type": "object",
        "properties": {"order_id": {"type": "integer"}},
        "required": ["order_id"],
        "additionalProperties": False,
    }
    fmt = {"type": "json_schema", "name": "order", "schema": schema, "strict": True}
    reply = served.client().responses.create(model="hosted", input="Order 77 please", text={"format": fmt})
    jsonschema.validate(json.loads(reply.output_text), schema)
    assert json.loads(reply.output_text) == {"order_id": 77}
    sent = served.last_chat_body()["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "order", "schema": schema, "strict": True}}
    assert reply.text.format.type == "json_schema"

    parsed = served.client().responses.parse(model="hosted", input="Order 78 via post", text_format=Order)
    assert isinstance(parsed.output_parsed, Order) and parsed.output_parsed.order_id == 78


def test_a_length_cut_is_incomplete(served):
    reply = served.client().responses.create(model="hosted", input="one two three four five", max_output_tokens=2)
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "max_output_tokens"
    assert reply.output_text == "echo: one"
    assert served.last_chat_body()["max_tokens"] == 2


def test_a_streamed_text_answer(served):
    client = served.client()
    with client.responses.stream(model="hosted", input="stream this answer") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 4 and "".join(deltas) == "echo: stream this answer"
    assert final.output_text == "echo: stream this answer" and final.status == "completed"
    assert final.usage.output_tokens == 4 and final.model_extra["modelyard_route"]["model"] == "hosted"
    assert {e.response.id for e in events if e.type.startswith("response.") and hasattr(e, "response")} == {final.id}
    stored = client.responses.retrieve(final.id)  # a streamed answer is stored too
    assert stored.output_text == final.output_text


def test_a_streamed_function_call(served):
    with served.client().responses.stream(model="hosted", input="Status of order 5150?", tools=TOOLS) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [e.type for e in events]
    assert "response.output_text.delta" not in kinds
    pieces = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    assert len(pieces) == 2 and "".join(pieces) == done.arguments == final.output[0].arguments
    assert json.loads(done.arguments) == {"order_id": "5150"}
    assert final.output[0].type == "function_call" and final.output[0].name == "order_status"
    assert kinds[-2:] == ["response.output_item.done", "response.completed"]


def test_a_failure_mid_stream_is_an_error_and_response_failed(served):
    served.upstream.disconnect_stream(after_chunks=1, times=1)
    try:
        events = list(served.client().responses.create(model="hosted", input="cut me off early please", stream=True))
    finally:
        served.upstream.heal()
    kinds = [e.type for e in events]
    assert "response.output_text.delta" in kinds
    assert kinds[-2:] == ["error", "response.failed"]
    assert events[-1].response.status == "failed" and events[-1].response.error.message


def test_get_and_delete(served):
    client = served.client()
    reply = client.responses.create(model="hosted", input="keep me")
    stored = client.responses.retrieve(reply.id)
    assert (stored.id, stored.output_text, stored.status) == (reply.id, "echo: keep me", "completed")
    deleted = httpx.delete(
        f"{served.url}/v1/responses/{reply.id}", headers={"Authorization": f"Bearer {served.secrets[0]}"}
    )
    assert deleted.status_code == 200 and deleted.json() == {"id": reply.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError) as gone:
        client.responses.retrieve(reply.id)
    assert gone.value.body["param"] == "response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(reply.id)


def test_store_false_is_not_kept(served):
    client = served.client()
    reply = client.responses.create(model="hosted", input="forget me", store=False)
    assert reply.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(reply.id)


def test_a_key_cannot_see_another_keys_response(served):
    mine, theirs = served.client(0), served.client(1)
    reply = mine.responses.create(model="hosted", input="private to key a")
    with pytest.raises(openai.NotFoundError):
        theirs.responses.retrieve(reply.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.delete(reply.id)
    with pytest.raises(openai.NotFoundError) as refused:
        theirs.responses.create(model="hosted", input="go on", previous_response_id=reply.id)
    assert refused.value.body["param"] == "previous_response_id"
    assert mine.responses.retrieve(reply.id).output_text == "echo: private to key a"  # still there for its key


def test_an_unknown_previous_response_is_404(served):
    with pytest.raises(openai.NotFoundError) as refused:
        served.client().responses.create(model="hosted", input="hi", previous_response_id="resp_nope")
    assert refused.value.body["param"] == "previous_response_id" and "resp_nope" in refused.value.message


@pytest.mark.parametrize(
    ("fields", "param", "says"),
    [
        ({"tools": [{"type": "web_search"}]}, "tools[0]", "web_search"),
        ({"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]}, "tools[0]", "file_search"),
        ({"background": True}, "background", "background"),
        ({"include": ["file_search_call.results"]}, "include", "file_search_call.results"),
        ({"truncation": "auto"}, "truncation", "truncated"),
        ({"reasoning": {"summary": "auto"}}, "reasoning.summary", "summaries"),
        ({"extra_body": {"conversation": "conv_1"}}, "conversation", "not supported"),
        ({"input": [{"type": "input_file", "file_id": "file_1"}]}, "input[0].type", "input_file"),
    ],
)
def test_what_cannot_be_honoured_is_refused_by_name(served, fields, param, says):
    before = len(served.upstream.requests)
    with pytest.raises(openai.BadRequestError) as refused:
        served.client().responses.create(**{"model": "hosted", "input": "search the web", **fields})
    assert refused.value.body["param"] == param
    assert says in refused.value.message
    assert len(served.upstream.requests) == before  # nothing reached the model


def test_a_cached_answer_is_replayed_as_events(served):
    client = served.client()
    first = client.responses.create(model="hosted", input="answer me twice")
    before = len(served.upstream.requests)
    with client.responses.stream(model="hosted", input="answer me twice") as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    assert len(served.upstream.requests) == before  # served by the chat pipeline's response cache
    assert final.output_text == first.output_text and final.id != first.id
    assert final.model_extra["modelyard_route"]["cache"]["result"] == "hit"
    assert kinds[-1] == "response.completed" and "response.output_text.delta" in kinds
