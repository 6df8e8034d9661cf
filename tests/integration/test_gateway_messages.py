"""``POST /v1/messages`` through the official ``anthropic`` SDK, over the gateway's one chat pipeline.

The gateway runs on a loopback port with consumer keys on; its catalog model is the honest fake
OpenAI-compatible upstream, which records every body and answers from it (a tool call to a
declared tool with schema-fitting arguments, tool results quoted, text cut at ``stop``), so a
field lost in translation changes the answer or the recorded body and fails the test.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import jsonschema
import pytest

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

MASTER = "mk-messages-test"
ORDER_TOOL = {
    "name": "order_status",
    "description": "Where an order is",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "integer"}, "express": {"type": "boolean"}},
        "required": ["order_id"],
    },
}
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16).decode()


@dataclass
class Served:
    url: str
    upstream: FakeUpstream
    secret: str
    key_id: str
    app: object

    def rows(self) -> list[dict]:
        """This key's request-log rows (flushed)."""
        log = self.app.state.gateway.log  # type: ignore[attr-defined]
        log.flush()
        return [row for row in log.rows(0, time.time() + 60) if row["key_id"] == self.key_id]

    def client(self, api_key: str | None = None) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key=api_key or self.secret, max_retries=0)

    def last_chat_body(self) -> dict:
        return next(r.body for r in reversed(self.upstream.requests) if r.path.endswith("/chat/completions"))


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("messages")
    with FakeUpstream() as upstream:
        spec = ModelSpec(
            name="hosted",
            provider="openai",
            tasks=["chit_chat"],
            modalities={"input": ["text", "image"]},
            params={"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 4096}},
            deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt"}],
        )
        templated = ModelSpec(  # a local-protocol model: it cannot stop at caller-given sequences
            name="templated",
            provider="http_template",
            params={"max_tokens": {"type": "int", "min": 1, "max": 4096}},
            http_template={
                "req_url_template": f"{upstream.root_url}/template/x",
                "body": {"q": "{USER_PROMPT}"},
                "response_extract": "answer",
            },
        )
        routing = {"policies": ["explicit", "modality", "cost"], "health": {"failure_threshold": 1000}}
        app = gateway_app(folder, [spec, templated], routing=routing, master_key=MASTER, log_flush_seconds=0.05)
        with serving(app) as url:
            created = httpx.post(
                f"{url}/api/keys", headers={"Authorization": f"Bearer {MASTER}"}, json={"name": "claude-tools"}
            )
            assert created.status_code == 201, created.text
            yield Served(url, upstream, created.json()["secret"], created.json()["id"], app)


def test_text_with_system_and_stop_sequences(served):
    message = served.client().messages.create(
        model="hosted",
        max_tokens=50,
        system=[{"type": "text", "text": "You answer briefly.", "cache_control": {"type": "ephemeral"}}],
        stop_sequences=["STOP"],
        extra_body={"temperature": 0.5},  # no longer a keyword of the SDK, still a field of the API
        metadata={"user_id": "u-42"},
        messages=[{"role": "user", "content": "say hello STOP and nothing more"}],
    )
    assert message.type == "message" and message.role == "assistant" and message.id.startswith("msg_")
    assert message.model == "hosted"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "echo: say hello "  # cut before the stop sequence upstream
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert message.model_extra["modelyard_route"]["model"] == "hosted"
    sent = served.last_chat_body()
    assert sent["messages"][0] == {"role": "system", "content": "You answer briefly."}
    assert sent["stop"] == ["STOP"] and sent["temperature"] == 0.5 and sent["user"] == "u-42"
    assert sent["max_tokens"] == 50


def test_max_tokens_is_reported_as_the_stop_reason(served):
    message = served.client().messages.create(
        model="hosted", max_tokens=2, messages=[{"role": "user", "content": "one two three four five"}]
    )
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "echo: one"


def test_structured_output_reaches_the_upstream_as_a_response_format(served):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "rooms": {"type": "integer"}}}
    message = served.client().messages.create(
        model="hosted",
        max_tokens=100,
        output_config={"format": {"type": "json_schema", "schema": schema}},
        messages=[{"role": "user", "content": "a hotel in Oslo with 12 rooms"}],
    )
    jsonschema.validate(json.loads(message.content[0].text), schema)
    assert served.last_chat_body()["response_format"]["json_schema"]["schema"] == schema


def test_a_two_step_tool_loop(served):
    client = served.client()
    question = {"role": "user", "content": "Where is order 1042?"}
    first = client.messages.create(
        model="hosted", max_tokens=100, tools=[ORDER_TOOL], tool_choice={"type": "auto"}, messages=[question]
    )
    assert first.stop_reason == "tool_use"
    (call,) = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "order_status"
    jsonschema.validate(call.input, ORDER_TOOL["input_schema"])
    assert call.input["order_id"] == 1042
    sent = served.last_chat_body()
    assert sent["tools"][0]["function"]["parameters"] == ORDER_TOOL["input_schema"]
    assert sent["tool_choice"] == "auto"

    result = {"type": "tool_result", "tool_use_id": call.id, "content": [{"type": "text", "text": "shipped on Monday"}]}
    final = client.messages.create(
        model="hosted",
        max_tokens=100,
        tools=[ORDER_TOOL],
        messages=[question, {"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}],
    )
    assert final.stop_reason == "end_turn"
    assert final.content[0].text == "order_status said: shipped on Monday"
    sent = served.last_chat_body()
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert json.loads(sent["messages"][1]["tool_calls"][0]["function"]["arguments"]) == call.input
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id, "content": "shipped on Monday"}


def test_a_forced_tool_without_parallel_calls(served):
    message = served.client().messages.create(
        model="hosted",
        max_tokens=100,
        tools=[{"name": "weather", "input_schema": {"type": "object", "properties": {}}}, ORDER_TOOL],
        tool_choice={"type": "tool", "name": "order_status", "disable_parallel_tool_use": True},
        messages=[{"role": "user", "content": "how is the weather for order 7"}],
    )
    assert [block.name for block in message.content if block.type == "tool_use"] == ["order_status"]
    sent = served.last_chat_body()
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "order_status"}}
    assert sent["parallel_tool_calls"] is False


def test_a_tool_error_reaches_the_model(served):
    calls = [{"type": "tool_use", "id": "toolu_1", "name": "order_status", "input": {"order_id": 9}}]
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "order not found", "is_error": True}
    message = served.client().messages.create(
        model="hosted",
        max_tokens=100,
        tools=[ORDER_TOOL],
        messages=[
            {"role": "user", "content": "where is order 9"},
            {"role": "assistant", "content": calls},
            {"role": "user", "content": [result]},
        ],
    )
    assert message.content[0].text == "order_status said: Error: order not found"


def test_stream_of_text(served):
    with served.client().messages.stream(
        model="hosted", max_tokens=50, messages=[{"role": "user", "content": "stream these words please"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == "echo: stream these words please"
    assert final.content[0].text == "echo: stream these words please"
    assert final.stop_reason == "end_turn" and final.model == "hosted"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens == 5
    assert served.last_chat_body()["stream"] is True


def test_stream_of_a_tool_use(served):
    client = served.client()
    with client.messages.stream(
        model="hosted",
        max_tokens=100,
        tools=[ORDER_TOOL],
        messages=[{"role": "user", "content": "Where is order 77?"}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    partial = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert len(partial) >= 2 and json.loads("".join(partial)) == {"order_id": 77, "express": True}
    assert final.stop_reason == "tool_use"
    (call,) = final.content
    assert call.type == "tool_use" and call.name == "order_status" and call.input == {"order_id": 77, "express": True}
    jsonschema.validate(call.input, ORDER_TOOL["input_schema"])


def test_an_image_block_reaches_the_upstream_as_image_url(served):
    served.client().messages.create(
        model="hosted",
        max_tokens=20,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
                    {"type": "text", "text": "what is in these pictures?"},
                ],
            }
        ],
    )
    parts = served.last_chat_body()["messages"][-1]["content"]
    assert parts[0] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}
    assert parts[1] == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
    assert parts[2] == {"type": "text", "text": "what is in these pictures?"}


def test_a_missing_max_tokens_is_a_bad_request(served):
    with pytest.raises(anthropic.BadRequestError) as refused:
        served.client().post(
            "/v1/messages",
            body={"model": "hosted", "messages": [{"role": "user", "content": "hi"}]},
            cast_to=httpx.Response,
        )
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"] == {"type": "invalid_request_error", "message": "max_tokens: field required"}


def test_a_field_that_cannot_be_honoured_is_refused_by_name(served):
    before = len(served.upstream.requests)
    with pytest.raises(anthropic.BadRequestError) as refused:
        served.client().messages.create(
            model="hosted",
            max_tokens=20,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "think"}],
        )
    assert refused.value.body["error"]["message"].startswith("thinking:")
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        served.client().messages.create(
            model="hosted",
            max_tokens=20,
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
            messages=[{"role": "user", "content": "search"}],
        )
    assert "tools[0].type" in server_tool.value.message and "web_search_20250305" in server_tool.value.message
    assert len(served.upstream.requests) == before  # refused before any call


def test_an_unknown_model_is_not_found(served):
    with pytest.raises(anthropic.NotFoundError) as missing:
        served.client().messages.create(
            model="claude-nonexistent", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.body["error"]["type"] == "not_found_error"
    assert "model 'claude-nonexistent' does not exist; available: auto, hosted" in missing.value.message


def test_a_model_that_cannot_stop_names_the_messages_field(served):
    with pytest.raises(anthropic.BadRequestError) as refused:
        served.client().messages.create(
            model="templated", max_tokens=20, stop_sequences=["END"], messages=[{"role": "user", "content": "hi"}]
        )
    assert "stop" in refused.value.message and "(the Messages API field 'stop_sequences')" in refused.value.message


def test_a_bad_key_is_an_authentication_error(served):
    with pytest.raises(anthropic.AuthenticationError) as denied:
        served.client(api_key="my-forged").messages.create(
            model="hosted", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert denied.value.body["error"]["type"] == "authentication_error"
    assert "my-forged" not in denied.value.message  # the secret is never echoed


def test_a_failed_upstream_is_an_api_error(served):
    served.upstream.fail(status=503, times=1)
    try:
        with pytest.raises(anthropic.APIStatusError) as failed:
            served.client().messages.create(
                model="hosted", max_tokens=20, messages=[{"role": "user", "content": "fail once"}]
            )
    finally:
        served.upstream.heal()
    assert failed.value.status_code == 502
    assert failed.value.body["error"]["type"] == "api_error"


def test_usage_is_counted_for_the_key(served):
    def tokens() -> tuple[int, int]:
        headers = {"Authorization": f"Bearer {served.secret}"}
        rows = httpx.get(f"{served.url}/api/usage", headers=headers).json()["models"]
        return sum(r["requests"] for r in rows), sum(r["output_tokens"] for r in rows)

    requests_before, output_before = tokens()
    message = served.client().messages.create(
        model="hosted", max_tokens=50, messages=[{"role": "user", "content": "count my usage please"}]
    )
    requests_after, output_after = tokens()
    assert requests_after == requests_before + 1
    assert output_after - output_before == message.usage.output_tokens > 0


def test_a_cached_answer_is_replayed_in_both_forms(served):
    client = served.client()
    request = {"model": "hosted", "max_tokens": 30, "messages": [{"role": "user", "content": "cache me if you can"}]}
    first = client.messages.create(**request)
    again = client.messages.with_raw_response.create(**request)
    assert again.headers["x-modelyard-cache"] == "hit"
    assert again.parse().content[0].text == first.content[0].text
    with client.messages.stream(**request) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        assert stream.response.headers["x-modelyard-cache"] == "hit"
    assert text == first.content[0].text and final.stop_reason == "end_turn"


def test_a_client_that_goes_away_mid_stream_settles_the_call_once(served):
    served.upstream.set_latency(0.0, chunk_delay=0.2)
    try:
        seen = {row["id"] for row in served.rows()}
        body = {
            "model": "hosted",
            "max_tokens": 50,
            "stream": True,
            "messages": [{"role": "user", "content": "a b c d e f"}],
        }
        headers = {"x-api-key": served.secret, "anthropic-version": "2023-06-01"}
        with httpx.stream("POST", f"{served.url}/v1/messages", json=body, headers=headers) as response:
            assert response.status_code == 200
            for line in response.iter_lines():  # up to the first piece of text, then hang up
                if "text_delta" in line:
                    break
        deadline = time.monotonic() + 10
        while not (new := [row for row in served.rows() if row["id"] not in seen]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(row["status"], row["error_class"], row["endpoint"]) for row in new] == [
            (499, "ClientDisconnected", "messages_stream")
        ]
        assert new[0]["output_tokens"] >= 1  # charged what was generated
    finally:
        served.upstream.set_latency(0.0, chunk_delay=0.0)
