"""Every remote adapter over real HTTP against the fake upstream: calls, usage, cost, errors."""

from __future__ import annotations

import asyncio
import copy

import pytest

from core.errors import (
    ProviderConnectionError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeout,
)
from models.factory import build_chat_model
from models.spec import ModelSpec
from tests.support.upstream import FakeUpstream, free_port


def openai_spec(base_url: str, timeout: float = 5.0) -> ModelSpec:
    return ModelSpec(
        name="fake-gpt",
        provider="openai",
        cost={"input_per_1k": 1.0, "output_per_1k": 2.0},
        params={
            "temperature": {"type": "float", "default": 0.5, "min": 0, "max": 2},
            "max_tokens": {"type": "int", "min": 1, "max": 100},
        },
        deployments=[{"name": "east", "base_url": base_url, "model_id": "upstream-model", "timeout": timeout}],
    )


def hf_spec(root_url: str) -> ModelSpec:
    return ModelSpec(
        name="hf-model",
        provider="huggingface_endpoint",
        cost={"input_per_1k": 1.0, "output_per_1k": 1.0},
        params={"max_tokens": {"type": "int", "default": 50, "min": 1, "max": 100}},
        deployments=[{"name": "tgi", "base_url": root_url, "timeout": 5}],
    )


def template_spec(root_url: str) -> ModelSpec:
    return ModelSpec(
        name="acme",
        provider="http_template",
        params={
            "temperature": {"type": "float", "default": 0.5, "min": 0, "max": 1, "provider_name": "creative_level"}
        },
        http_template={
            "req_url_template": root_url + "/template/{MODEL_NAME}",
            "body": {
                "question": "{USER_PROMPT}",
                "options": {"creative_level": "{MODEL_TEMPERATURE}"},
                "note": "model {MODEL_NAME} asked",
            },
            "response_extract": "data.items[].attributes.answer",
        },
    )


# ---- openai ----------------------------------------------------------------------------------


def test_openai_invoke_carries_usage_cost_and_canonical_params(upstream):
    chat = build_chat_model(openai_spec(upstream.base_url), params={"max_tokens": 3})
    message = chat.invoke("hello there friend")
    assert message.content == "echo: hello there"  # cut to max_tokens=3 words by the upstream
    body = upstream.requests[-1].body
    assert body["model"] == "upstream-model" and body["temperature"] == 0.5
    usage = message.usage_metadata
    assert usage["output_tokens"] == 3
    expected = usage["input_tokens"] / 1000 * 1.0 + 3 / 1000 * 2.0
    assert message.response_metadata["cost_usd"] == pytest.approx(expected)
    assert message.response_metadata["deployment"] == "east"


def test_openai_stream_async_and_batch(upstream):
    chat = build_chat_model(openai_spec(upstream.base_url))
    chunks = list(chat.stream("one two three"))
    text = "".join(c.text for c in chunks)
    assert text == "echo: one two three" and len([c for c in chunks if c.text]) == 4
    assert upstream.requests[-1].body["stream_options"] == {"include_usage": True}
    total = sum(chunks[1:], chunks[0])
    assert total.usage_metadata["output_tokens"] == 4 and total.response_metadata["cost_usd"] > 0

    async def run_async():
        reply = await chat.ainvoke("async hi")
        streamed = [c.text async for c in chat.astream("async stream")]
        return reply.content, "".join(streamed)

    assert asyncio.run(run_async()) == ("echo: async hi", "echo: async stream")
    assert [m.content for m in chat.batch(["a", "b"])] == ["echo: a", "echo: b"]


@pytest.mark.parametrize(
    ("status", "error", "counts"),
    [
        (500, ProviderServerError, True),
        (503, ProviderServerError, True),
        (400, ProviderRequestError, False),
        (401, ProviderRequestError, False),
    ],
)
def test_openai_status_errors_map_to_one_hierarchy(upstream, status, error, counts):
    upstream.fail(status, times=1)
    with pytest.raises(error) as info:
        build_chat_model(openai_spec(upstream.base_url)).invoke("x")
    err = info.value
    assert (err.provider, err.model, err.deployment, err.status) == ("openai", "fake-gpt", "east", status)
    assert err.counts_against_health is counts
    assert f"injected failure {status}" in str(err)


def test_openai_429_carries_retry_after(upstream):
    upstream.fail(429, times=1, retry_after=7)
    with pytest.raises(ProviderRateLimited) as info:
        build_chat_model(openai_spec(upstream.base_url)).invoke("x")
    assert info.value.retry_after == 7.0 and info.value.status == 429


def test_openai_timeout_and_connect_errors(upstream):
    upstream.hang(3, times=1)
    with pytest.raises(ProviderTimeout):
        build_chat_model(openai_spec(upstream.base_url, timeout=0.5)).invoke("x")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ProviderConnectionError) as info:
        build_chat_model(openai_spec(dead)).invoke("x")
    assert info.value.deployment == "east"


def test_openai_stream_cut_mid_way_is_a_provider_error(upstream):
    upstream.disconnect_stream(after_chunks=2, times=1)
    seen = []
    with pytest.raises(ProviderConnectionError):
        for chunk in build_chat_model(openai_spec(upstream.base_url)).stream("a b c d e f"):
            seen.append(chunk.text)
    assert "".join(seen) == "echo: a"


# ---- huggingface_endpoint --------------------------------------------------------------------


@pytest.fixture
def hub_online(monkeypatch):
    """huggingface_hub refuses every request in offline mode, even to a loopback TGI server;
    the suite runs offline, so these tests lift it for huggingface_hub alone (the target is 127.0.0.1)."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_huggingface_endpoint_invoke_and_stream(upstream, hub_online):
    chat = build_chat_model(hf_spec(upstream.root_url))
    reply = chat.invoke("hi from hf")
    assert reply.content == "echo: hi from hf"
    assert upstream.requests[-1].path == "/v1/chat/completions"
    assert reply.usage_metadata["output_tokens"] == 4 and reply.response_metadata["cost_usd"] > 0
    streamed = list(chat.stream("stream hf"))
    assert "".join(c.text for c in streamed) == "echo: stream hf"
    assert sum(streamed[1:], streamed[0]).usage_metadata["output_tokens"] == 3
    assert asyncio.run(chat.ainvoke("async hf")).content == "echo: async hf"


def test_huggingface_endpoint_errors_are_translated(upstream, hub_online):
    upstream.fail(503, times=1)
    with pytest.raises(ProviderServerError) as info:
        build_chat_model(hf_spec(upstream.root_url)).invoke("x")
    assert info.value.provider == "huggingface_endpoint" and info.value.status == 503


# ---- http_template ---------------------------------------------------------------------------


def test_http_template_fills_a_copy_extracts_and_estimates_usage(upstream):
    spec = template_spec(upstream.root_url)
    pristine = copy.deepcopy(spec.http_template.model_dump())
    upstream.reply = "forty-two"
    chat = build_chat_model(spec, params={"temperature": 0.9})
    first = chat.invoke("what is the answer?")
    second = chat.invoke("and the question?")
    assert first.content == second.content == "forty-two"
    bodies = [r.body for r in upstream.requests]
    assert bodies[0] == {
        "question": "what is the answer?",
        "options": {"creative_level": 0.9},
        "note": "model acme asked",
    }
    assert bodies[1]["question"] == "and the question?"
    assert upstream.requests[0].path == "/template/acme"
    assert spec.http_template.model_dump() == pristine  # the registered template was never mutated
    assert first.usage_metadata["output_tokens"] > 0 and first.response_metadata["usage_estimated"]
    assert asyncio.run(chat.ainvoke("async?")).content == "forty-two"


def test_http_template_path_that_does_not_match_names_path_and_keys(upstream):
    spec = template_spec(upstream.root_url)
    spec.http_template.response_extract = "data.results[].text"
    with pytest.raises(ProviderResponseError) as info:
        build_chat_model(spec).invoke("q")
    message = str(info.value)
    assert "'data.results[].text'" in message and "no key 'results' at 'data'" in message
    assert "keys present: ['items']" in message and not info.value.counts_against_health


def test_http_template_status_errors(upstream):
    upstream.fail(502, times=1)
    with pytest.raises(ProviderServerError) as info:
        build_chat_model(template_spec(upstream.root_url)).invoke("q")
    assert info.value.provider == "http_template" and info.value.status == 502


def test_fake_upstream_lists_models():
    import httpx

    with FakeUpstream(model_ids=["a", "b"]) as server:
        assert [m["id"] for m in httpx.get(server.base_url + "/models").json()["data"]] == ["a", "b"]
