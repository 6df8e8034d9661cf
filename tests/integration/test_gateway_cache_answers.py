"""The response cache is honest about every field that changes an answer, and replays what it stored.

The gateway on a loopback port, the official ``openai`` client and LangChain's ``ChatOpenAI`` as
clients, the honest fake upstream (its answer follows tools, stop, n, logprobs, response_format…)
and the real MiniLM for the semantic cache. Each test asks fresh questions (a nonce), so entries
of one test never serve another.
"""

from __future__ import annotations

import operator
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any

import openai
import pytest
from langchain_openai import ChatOpenAI

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
            "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}}, "required": ["order_id"]},
        },
    }
]
JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {"name": "order", "schema": {"type": "object", "properties": {"order_id": {"type": "integer"}}}},
}

# (base fields, changed fields): two requests that differ in one field that changes the answer
DIFFERING = {
    "tools": ({}, {"tools": TOOLS}),
    "tool_choice": ({"tools": TOOLS}, {"tools": TOOLS, "tool_choice": "none"}),
    "parallel_tool_calls": ({"tools": TOOLS}, {"tools": TOOLS, "parallel_tool_calls": False}),
    "response_format": ({}, {"response_format": {"type": "json_object"}}),
    "stop": ({}, {"stop": ["."]}),
    "seed": ({"seed": 1}, {"seed": 2}),
    "n": ({}, {"n": 2}),
    "logprobs": ({}, {"logprobs": True}),
    "top_logprobs": ({"logprobs": True, "top_logprobs": 1}, {"logprobs": True, "top_logprobs": 2}),
    "logit_bias": ({}, {"logit_bias": {"50256": -100}}),
    "presence_penalty": ({}, {"presence_penalty": 0.5}),
    "frequency_penalty": ({}, {"frequency_penalty": 0.5}),
    "unknown field": ({}, {"extra_body": {"x_vendor_knob": 3}}),
}

SHOWN_IN_THE_ANSWER = {"tools", "tool_choice", "response_format", "stop", "n", "logprobs", "top_logprobs"}
"""The fields whose effect the fake upstream's answer shows (the others reach it, and it ignores them)."""


@dataclass
class Served:
    url: str
    upstream: FakeUpstream

    def client(self, **headers: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0, default_headers=headers)

    def ask(self, text: str, mode: str = "exact", system: str = "", **fields: Any) -> tuple[Any, str | None]:
        """One non-streamed chat in cache ``mode``; ``(reply, x-modelyard-cache header)``."""
        messages: list[Any] = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": text})
        raw = self.client(**{"x-modelyard-cache": mode}).chat.completions.with_raw_response.create(
            model="hosted", messages=messages, **fields
        )
        return raw.parse(), raw.headers.get("x-modelyard-cache")

    def upstream_calls(self) -> int:
        return sum(1 for r in self.upstream.requests if r.path.endswith("/chat/completions"))


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("cache-answers")
    with FakeUpstream() as upstream:
        spec = ModelSpec(
            name="hosted",
            provider="openai",
            tasks=["chit_chat"],
            params={"temperature": {"min": 0, "max": 2}},
            deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt"}],
        )
        with serving(gateway_app(folder, [spec])) as url:
            yield Served(url, upstream)


def _nonce() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=10))


def _answer(reply: Any) -> list[dict[str, Any]]:
    """What a reply answered: its choices (ids, timestamps and the route left out)."""
    return [choice.model_dump() for choice in reply.choices]


# ---- the key -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["exact", "semantic"])
@pytest.mark.parametrize("field", list(DIFFERING))
def test_requests_differing_in_one_field_get_their_own_answers(served, field, mode):
    base, changed = DIFFERING[field]
    text = f"Where is order 1042, {_nonce()}. Tell me"
    first, header = served.ask(text, mode, **base)
    assert header == "miss"
    calls = served.upstream_calls()
    other, header = served.ask(text, mode, **changed)
    assert header == "miss" and served.upstream_calls() == calls + 1  # not served the first answer
    sent = served.upstream.requests[-1].body
    expected = {name: value for name, value in changed.items() if name != "extra_body"}
    for name, value in {**expected, **changed.get("extra_body", {})}.items():
        assert sent[name] == value, name
    again, header = served.ask(text, mode, **base)
    assert header == "hit" and _answer(again) == _answer(first)  # each answer under its own key
    if field in SHOWN_IN_THE_ANSWER:
        assert _answer(other) != _answer(first)
    assert served.upstream_calls() == calls + 1


# ---- what a hit replays --------------------------------------------------------------------------
def _streamed(served: Served, text: str, **fields: Any) -> list[Any]:
    return list(
        served.client().chat.completions.create(
            model="hosted", messages=[{"role": "user", "content": text}], stream=True, **fields
        )
    )


def test_a_tool_call_answer_replays_as_json_and_as_stream_deltas(served):
    text = f"Where is order 1042? {_nonce()}"
    stored, header = served.ask(text, tools=TOOLS)
    assert header == "miss" and stored.choices[0].finish_reason == "tool_calls"
    calls = served.upstream_calls()

    replayed, header = served.ask(text, tools=TOOLS)
    assert header == "hit" and _answer(replayed) == _answer(stored)
    assert replayed.choices[0].message.tool_calls[0].function.arguments == '{"order_id": 1042}'

    chunks = _streamed(served, text, tools=TOOLS, stream_options={"include_usage": True})
    deltas = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
    assert [(t.index, t.id, t.function.name, t.function.arguments) for t in deltas] == [
        (0, stored.choices[0].message.tool_calls[0].id, "order_status", '{"order_id": 1042}')
    ]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage == stored.usage
    assert chunks[-1].model_extra["modelyard_route"]["cache"]["result"] == "hit"

    model = ChatOpenAI(base_url=f"{served.url}/v1", api_key="unused", model="hosted", max_retries=0)
    whole = reduce(operator.add, model.bind_tools(TOOLS).stream(text))  # LangChain aggregates the replay
    assert whole.tool_calls == [
        {"name": "order_status", "args": {"order_id": 1042}, "id": deltas[0].id, "type": "tool_call"}
    ]
    assert whole.response_metadata["finish_reason"] == "tool_calls"
    assert served.upstream_calls() == calls  # every replay came from the cache


def test_all_n_choices_and_their_logprobs_are_replayed(served):
    text = f"two samples {_nonce()}"
    fields: dict[str, Any] = {"n": 2, "logprobs": True, "top_logprobs": 2}
    stored, header = served.ask(text, **fields)
    assert header == "miss" and len(stored.choices) == 2
    calls = served.upstream_calls()

    replayed, header = served.ask(text, **fields)
    assert header == "hit" and _answer(replayed) == _answer(stored)

    for include_usage in (False, True):
        chunks = _streamed(served, text, stream_options={"include_usage": include_usage}, **fields)
        for stored_choice in stored.choices:
            mine = [c.choices[0] for c in chunks if c.choices and c.choices[0].index == stored_choice.index]
            assert "".join(c.delta.content or "" for c in mine) == stored_choice.message.content
            logprobs = [t for c in mine if c.logprobs for t in c.logprobs.content or []]
            assert logprobs == stored_choice.logprobs.content
            assert [c.finish_reason for c in mine if c.finish_reason] == [stored_choice.finish_reason]
        assert "modelyard_route" in chunks[-1].model_extra  # the route rides on the last chunk only
        assert not any("modelyard_route" in (c.model_extra or {}) for c in chunks[:-1])
    assert served.upstream_calls() == calls


# ---- the semantic cache never crosses tools or response_format -----------------------------------
@pytest.mark.parametrize("declared", [{"tools": TOOLS}, {"response_format": JSON_SCHEMA}], ids=["tools", "format"])
def test_semantic_matches_never_cross_tools_or_a_response_format(served, declared):
    question, paraphrase = "What's the status of my order?", "what is the status of my order"
    context = f"support desk {_nonce()}"  # a fresh partition: nothing stored yet
    assert served.ask(question, "semantic", context)[1] == "miss"
    assert served.ask(paraphrase, "semantic", context)[1] == "semantic_hit"  # the cache does match paraphrases

    assert served.ask(paraphrase, "semantic", context, **declared)[1] == "miss"  # not the plain answer
    calls = served.upstream_calls()
    # with tools or a schema the answer is read out of the question: exact only, no near matches
    assert served.ask(question, "semantic", context, **declared)[1] == "miss"
    assert served.ask(question, "semantic", context, **declared)[1] == "hit"
    assert served.upstream_calls() == calls + 1

    context = f"support desk {_nonce()}"  # a structured answer never serves a plain paraphrase
    assert served.ask(question, "semantic", context, **declared)[1] == "miss"
    assert served.ask(paraphrase, "semantic", context)[1] == "miss"
