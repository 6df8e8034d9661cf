"""Every chat-completion field is forwarded, passed as a declared parameter, or refused — never dropped.

The official ``openai`` client calls the gateway on a loopback port; the OpenAI-compatible fake
upstream records each body it receives, so a dropped field fails the test. A local-protocol
model (``http_template``) stands in for the LangChain path: it cannot take ``tools`` and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openai
import pytest

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "order_status",
            "description": "Where an order is",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]},
        },
    }
]
SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "strict": True, "schema": {"type": "object", "properties": {}}},
}
FIELDS = {
    "tools": TOOLS,
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "response_format": SCHEMA,
    "stop": ["\n\n"],
    "seed": 7,
    "n": 1,
    "presence_penalty": 0.1,
    "frequency_penalty": 0.2,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "metadata": {"team": "support"},
    "service_tier": "default",
}


@dataclass
class Served:
    url: str
    upstream: FakeUpstream

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("fields")
    with FakeUpstream() as upstream:
        specs = [
            ModelSpec(
                name="hosted",
                provider="openai",
                tasks=["chit_chat"],
                params={"temperature": {"min": 0, "max": 2}, "frequency_penalty": {"min": 0, "max": 1}},
                deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt"}],
            ),
            ModelSpec(
                name="templated",
                provider="http_template",
                tasks=["chit_chat"],
                http_template={
                    "req_url_template": f"{upstream.root_url}/template/x",
                    "body": {"q": "{USER_PROMPT}"},
                    "response_extract": "answer",
                },
            ),
        ]
        with serving(gateway_app(folder, specs)) as url:
            yield Served(url, upstream)


def _last_chat_body(upstream: FakeUpstream) -> dict:
    return next(r.body for r in reversed(upstream.requests) if r.path.endswith("/chat/completions"))


@pytest.mark.parametrize("model", ["hosted", "auto"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_every_field_reaches_an_openai_protocol_upstream(served, model, stream):
    prompt = [{"role": "user", "content": f"fields {model} {stream}"}]
    extra = {"x_vendor_option": {"keep": True}}  # a field this gateway does not know: forwarded too
    reply = served.client().chat.completions.create(
        model=model, messages=prompt, stream=stream, extra_body=extra, **FIELDS
    )
    if stream:  # the upstream saw the tools and called one: the call arrives as deltas
        chunks = [c for c in reply if c.choices]
        names = [t.function.name for c in chunks for t in c.choices[0].delta.tool_calls or [] if t.function.name]
        assert names == ["order_status"]
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
    else:
        assert reply.choices[0].message.tool_calls[0].function.name == "order_status"
        assert reply.choices[0].finish_reason == "tool_calls"
        if model == "auto":  # the http_template candidate cannot take tools: left out of the plan, and said so
            route = reply.model_extra["modelyard_route"]
            assert "needs tools" in route["reason"], route["reason"]
            assert [a["model"] for a in route["attempts"]] == ["hosted"]
    sent = _last_chat_body(served.upstream)
    for name, value in FIELDS.items():
        assert sent[name] == value, name
    assert sent["x_vendor_option"] == {"keep": True}
    assert sent["model"] == "fake-gpt"
    assert not {"max_cost", "task", "modelyard_cache"} & set(sent)


def test_a_declared_field_is_checked_against_the_schema(served):
    with pytest.raises(openai.BadRequestError) as refused:
        served.client().chat.completions.create(
            model="hosted", messages=[{"role": "user", "content": "too much"}], frequency_penalty=1.5
        )
    assert refused.value.body["param"] == "frequency_penalty"
    assert "frequency_penalty=1.5 is outside the allowed range [0, 1]" in refused.value.message


def test_a_model_that_cannot_take_a_field_refuses_it_by_name(served):
    before = len(served.upstream.requests)
    with pytest.raises(openai.BadRequestError) as refused:
        served.client().chat.completions.create(
            model="templated", messages=[{"role": "user", "content": "where is my order?"}], tools=TOOLS
        )
    assert refused.value.body["param"] == "tools"
    assert "model 'templated' (http_template) cannot honour 'tools'" in refused.value.message
    assert len(served.upstream.requests) == before  # refused before any call
