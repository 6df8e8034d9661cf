"""Real clients through the gateway's ``/v1/chat/completions``: LangChain's ``ChatOpenAI`` with tools
and structured output, the ``openai`` client's ``n`` / ``logprobs`` / ``stop``, and an agent
(``langchain.agents.create_agent``, the successor of LangGraph's deprecated ``create_react_agent``)
running a tool loop.

The gateway serves one ``openai``-provider model whose deployment is the honest fake upstream
(:mod:`tests.support.answers`): it calls a declared tool with arguments fitting its schema, answers
JSON fitting a ``response_format`` and quotes tool results — so a field lost on the way fails here.
Every prompt carries a fresh nonce: the response cache is on, and each test finds its own requests
among the upstream's recorded bodies.
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
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

MODELS = ["hosted", "auto"]


@tool
def order_status(order_id: int) -> str:
    """Where an order is: its shipping status."""
    return f"order {order_id} left the warehouse on Monday"


@tool
def store_hours(day: str) -> str:
    """Opening hours of the shop on a given day."""
    return f"open from 9 to 17 on {day}"


class OrderQuestion(BaseModel):
    """What the customer asks about."""

    order_id: int = Field(description="the order number")
    answer: str = Field(description="the answer to the customer")


class Answer(BaseModel):
    """A JSON-mode answer: the one key the fake upstream's ``json_object`` answer has."""

    answer: str


@dataclass
class Served:
    url: str
    upstream: FakeUpstream

    def chat_model(self, model: str, **settings: Any) -> ChatOpenAI:
        return ChatOpenAI(base_url=f"{self.url}/v1", api_key="unused", model=model, max_retries=0, **settings)

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)

    def bodies_with(self, nonce: str) -> list[dict[str, Any]]:
        """The chat bodies the upstream received whose messages mention ``nonce``, in order."""
        return [
            r.body
            for r in self.upstream.requests
            if r.path.endswith("/chat/completions") and nonce in str(r.body.get("messages"))
        ]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("clients")
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
    """Letters only: the fake upstream reads numbers out of the question for tool arguments."""
    return "".join(random.choices(string.ascii_lowercase, k=10))


# ---- ChatOpenAI with tools -----------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_bind_tools_invoke_returns_a_tool_call_fitting_the_schema(served, model):
    nonce = _nonce()
    bound = served.chat_model(model).bind_tools([order_status, store_hours])
    message = bound.invoke(f"Where is order 1042? ({nonce})")
    assert isinstance(message, AIMessage)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [("order_status", {"order_id": 1042})]
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert order_status.invoke(message.tool_calls[0]["args"]) == "order 1042 left the warehouse on Monday"
    (sent,) = served.bodies_with(nonce)
    assert [t["function"]["name"] for t in sent["tools"]] == ["order_status", "store_hours"]
    assert sent["tools"][0]["function"]["parameters"]["properties"]["order_id"]["type"] == "integer"


@pytest.mark.parametrize("model", MODELS)
def test_bind_tools_stream_aggregates_to_the_tool_call(served, model):
    nonce = _nonce()
    bound = served.chat_model(model, stream_usage=True).bind_tools([order_status, store_hours])
    chunks = list(bound.stream(f"Where is order 77? ({nonce})"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert sum(1 for c in chunks if c.tool_call_chunks) >= 2  # the name, then the arguments in pieces
    whole = reduce(operator.add, chunks)
    assert [(c["name"], c["args"]) for c in whole.tool_calls] == [("order_status", {"order_id": 77})]
    assert whole.response_metadata["finish_reason"] == "tool_calls"
    assert whole.usage_metadata is not None and whole.usage_metadata["output_tokens"] > 0
    (sent,) = served.bodies_with(nonce)
    assert sent["stream"] is True and len(sent["tools"]) == 2


@pytest.mark.parametrize("model", MODELS)
def test_a_forced_tool_choice_reaches_the_upstream(served, model):
    nonce = _nonce()
    bound = served.chat_model(model).bind_tools([order_status, store_hours], tool_choice="store_hours")
    message = bound.invoke(f"Where is order 1042? ({nonce})")  # a question for the other tool
    assert [c["name"] for c in message.tool_calls] == ["store_hours"]
    (sent,) = served.bodies_with(nonce)
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "store_hours"}}


# ---- ChatOpenAI with structured output -------------------------------------------------------------
@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output_parses_into_the_model(served, method):
    nonce = _nonce()
    structured = served.chat_model("hosted").with_structured_output(OrderQuestion, method=method)
    parsed = structured.invoke(f"Reply about order 1042 ({nonce})")
    assert isinstance(parsed, OrderQuestion) and parsed.order_id == 1042 and nonce in parsed.answer
    (sent,) = served.bodies_with(nonce)
    if method == "json_schema":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"]["properties"]["order_id"]["type"] == "integer"
        assert "tools" not in sent
    else:
        assert sent["tool_choice"]["function"]["name"] == "OrderQuestion" and "response_format" not in sent


def test_structured_output_in_json_mode(served):
    nonce = _nonce()
    question = f"Reply in JSON ({nonce})"
    parsed = served.chat_model("auto").with_structured_output(Answer, method="json_mode").invoke(question)
    assert isinstance(parsed, Answer) and parsed.answer == question  # no schema is sent: the fake's JSON object
    (sent,) = served.bodies_with(nonce)
    assert sent["response_format"] == {"type": "json_object"}


def test_structured_output_with_the_raw_message(served):
    nonce = _nonce()
    structured = served.chat_model("auto").with_structured_output(OrderQuestion, method="json_schema", include_raw=True)
    result = structured.invoke(f"About order 31 ({nonce})")
    assert result["parsing_error"] is None
    assert isinstance(result["parsed"], OrderQuestion) and result["parsed"].order_id == 31
    raw = result["raw"]
    assert isinstance(raw, AIMessage) and OrderQuestion.model_validate_json(raw.text) == result["parsed"]
    assert raw.response_metadata["model_name"] == "hosted"  # the catalog name, not the upstream's id


# ---- the openai client: n, logprobs, stop --------------------------------------------------------
def test_n_gives_that_many_choices(served):
    nonce = _nonce()
    reply = served.client().chat.completions.create(
        model="hosted", messages=[{"role": "user", "content": f"two answers {nonce}"}], n=2
    )
    assert [c.index for c in reply.choices] == [0, 1]
    assert all(c.message.content == f"echo: two answers {nonce}" for c in reply.choices)
    assert served.bodies_with(nonce)[0]["n"] == 2


def test_logprobs_with_top_alternatives_come_back(served):
    nonce = _nonce()
    reply = served.client().chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": f"rate {nonce}"}],
        logprobs=True,
        top_logprobs=2,
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert [t.token for t in logprobs.content] == ["echo:", "rate", nonce]
    assert all(len(t.top_logprobs) == 2 for t in logprobs.content)


def test_stop_reaches_the_upstream_and_cuts_the_answer(served):
    nonce = _nonce()
    reply = served.client().chat.completions.create(
        model="hosted", messages=[{"role": "user", "content": f"{nonce} first. second"}], stop=["."]
    )
    assert reply.choices[0].message.content == f"echo: {nonce} first"
    assert served.bodies_with(nonce)[0]["stop"] == ["."]


# ---- an agent as a client --------------------------------------------------------------------------
@pytest.mark.parametrize("model", MODELS)
def test_an_agent_runs_a_tool_loop_through_the_gateway(served, model):
    nonce = _nonce()
    agent = create_agent(served.chat_model(model), tools=[order_status, store_hours])
    state = agent.invoke({"messages": [{"role": "user", "content": f"Where is order 1042? ({nonce})"}]})
    human, call, result, final = state["messages"]
    assert isinstance(human, HumanMessage)
    assert isinstance(call, AIMessage) and [(c["name"], c["args"]) for c in call.tool_calls] == [
        ("order_status", {"order_id": 1042})
    ]
    assert isinstance(result, ToolMessage) and result.tool_call_id == call.tool_calls[0]["id"]
    assert result.content == "order 1042 left the warehouse on Monday"  # the agent ran our tool
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.text == "order_status said: order 1042 left the warehouse on Monday"

    first, second = served.bodies_with(nonce)  # two model calls, and nothing else
    assert [t["function"]["name"] for t in first["tools"]] == ["order_status", "store_hours"]
    assistant, tool_result = second["messages"][-2:]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == call.tool_calls[0]["id"]
    assert tool_result == {
        "role": "tool",
        "tool_call_id": call.tool_calls[0]["id"],
        "content": "order 1042 left the warehouse on Monday",
    }
