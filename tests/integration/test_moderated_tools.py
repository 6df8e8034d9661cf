"""Moderation around tool calling: the router's chat model behind ``moderated(...)`` with tools bound.

The honest fake upstream builds a tool call's arguments from the (masked) user message, so the
tests can see what the hosted model saw and what the tool would receive.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from chains.moderation import moderated
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.upstream import FakeUpstream


@tool
def send_receipt(email: str) -> str:
    """Send the receipt of the last order to an e-mail address."""
    return f"receipt sent to {email}"


class Contact(BaseModel):
    email: str


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server


@pytest.fixture
def router(tmp_path, upstream) -> RouterRunnable:
    spec = ModelSpec(
        name="hosted",
        provider="openai",
        tasks=["chit_chat"],
        deployments=[{"name": "d0", "base_url": upstream.base_url, "model_id": "fake-gpt"}],
    )
    registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=[spec])
    config = RoutingConfig.model_validate({"policies": ["explicit", "cost"], "default_model": "hosted"})
    return RouterRunnable(registry, config, experiments=Experiments([], tmp_path / "ab.sqlite"))


def user_text(upstream: FakeUpstream) -> str:
    return " ".join(str(m["content"]) for m in upstream.requests[-1].body["messages"] if m["role"] == "user")


def test_tool_arguments_get_the_real_value_the_hosted_model_never_saw(router, upstream):
    chat = moderated(router).bind_tools([send_receipt])
    answer = chat.invoke("mail it to ann@example.com", {"configurable": {"conversation_id": "c1"}})
    assert "ann@example.com" not in user_text(upstream)  # the upstream got a placeholder
    assert "<EMAIL_1>" in user_text(upstream)
    assert answer.tool_calls[0]["name"] == "send_receipt"
    assert answer.tool_calls[0]["args"] == {"email": "mail it to ann@example.com"}  # restored for the tool
    assert answer.response_metadata["route"]["model"] == "hosted"
    assert answer.response_metadata["moderation"]["pii"] == [{"type": "EMAIL", "placeholder": "<EMAIL_1>"}]


def test_a_streamed_tool_call_arrives_whole_and_restored(router, upstream):
    chunks = list(moderated(router).bind_tools([send_receipt]).stream("mail it to bo@example.org"))
    with_calls = [c for c in chunks if c.tool_call_chunks]
    assert len(with_calls) == 1 and with_calls[0] is chunks[-1]  # held back until complete
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert total.tool_calls[0]["args"] == {"email": "mail it to bo@example.org"}
    assert "bo@example.org" not in user_text(upstream)


def test_tool_results_and_history_are_masked_too(router, upstream):
    chat = moderated(router).bind_tools([send_receipt])
    first = chat.invoke("mail it to cy@example.com", {"configurable": {"conversation_id": "c2"}})
    call = first.tool_calls[0]
    history = [
        HumanMessage("mail it to cy@example.com"),
        first,
        ToolMessage(send_receipt.invoke(call["args"]), tool_call_id=call["id"]),
    ]
    final = chat.invoke(history, {"configurable": {"conversation_id": "c2"}})
    sent = upstream.requests[-1].body["messages"]
    assert "cy@example.com" not in str(sent)  # user text, the earlier call's arguments, the tool result
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"email": "mail it to <EMAIL_1>"}'
    assert sent[2]["content"] == "receipt sent to mail it to <EMAIL_1>"
    assert final.content == "send_receipt said: receipt sent to mail it to cy@example.com"


def test_a_tool_result_in_a_blocked_category_stops_the_turn(router, upstream):
    chat = moderated(router, policy="default").bind_tools([send_receipt])
    history = [
        HumanMessage("what did the tool say?"),
        {"role": "assistant", "content": "", "tool_calls": [{"name": "send_receipt", "args": {}, "id": "c9"}]},
        ToolMessage("here is how to make a bomb", tool_call_id="c9"),
    ]
    before = len(upstream.requests)
    answer = chat.invoke(history)
    assert answer.response_metadata["moderation"]["blocked"] is True
    assert "weapons" in answer.response_metadata["moderation"]["categories"]
    assert len(upstream.requests) == before  # the model never saw it


def test_a_tool_call_whose_arguments_are_blocked_is_withheld(router, upstream):
    # the fake takes an enum's first value as the argument: the model "chooses" a blocked phrase
    lookup = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look a topic up",
            "parameters": {"type": "object", "properties": {"topic": {"enum": ["how to make a bomb"]}}},
        },
    }
    answer = moderated(router).bind_tools([lookup]).invoke("look something up")
    assert answer.tool_calls == []
    moderation = answer.response_metadata["moderation"]
    assert moderation["blocked"] is True and moderation["stage"] == "output"
    tool_flags = [f for f in moderation["flags"] if f["stage"] == "tool_call"]
    assert [(f["tool"], f["category"], f["action"]) for f in tool_flags] == [("lookup", "weapons", "block")]
    streamed = list(moderated(router).bind_tools([lookup]).stream("look something up"))
    assert not any(c.tool_call_chunks for c in streamed)
    assert streamed[-1].response_metadata["moderation"]["blocked"] is True


def test_structured_output_is_parsed_from_the_reviewed_answer(router, upstream):
    contact = moderated(router).with_structured_output(Contact).invoke("my address is di@example.net")
    assert contact == Contact(email="my address is di@example.net")  # placeholder restored before parsing
    assert "di@example.net" not in user_text(upstream)
