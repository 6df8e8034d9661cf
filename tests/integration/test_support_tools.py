"""The support bot's tools end to end: LangServe's ``RemoteRunnable`` on ``/support`` of a gateway on loopback.

The gateway's only model is an ``extractive`` catalog entry (as the bundled SmolLM2 is), so
``/support`` picks tools by rules and quotes the policy — no model generation is needed, and the
real local model is not loaded. The tool-calling path runs with ``ChatOpenAI`` over the fake
upstream, which calls a declared tool with schema-fitting arguments and then quotes the results.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chromadb
import pytest
from chromadb.config import Settings
from fastapi import FastAPI
from langchain_openai import ChatOpenAI
from langserve import RemoteRunnable, add_routes

from app.server import create_app
from chains.retrieval import DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_RELEVANCE_ZH, HybridRetriever
from chains.support import build_support_chain
from knowledge import KnowledgeBase, ensure_sample_kb
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from store.shop_orders import ShopOrders
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream


@dataclass
class Gateway:
    url: str
    data: Path

    def bot(self) -> RemoteRunnable:
        return RemoteRunnable(f"{self.url}/support")

    def shop(self) -> ShopOrders:
        return ShopOrders(self.data / "shop_orders.sqlite")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Gateway]:
    folder: Path = tmp_path_factory.mktemp("support")
    with pytest.MonkeyPatch.context() as env, FakeUpstream() as upstream:
        env.setenv("MODELYARD_DATA_DIR", str(folder / "data"))  # Chroma and the shop's SQLite live here
        spec = ModelSpec(
            name="quoter",
            provider="openai",
            answer_style="extractive",
            capabilities={"tools": False},  # stands for SmolLM2: no tool calls, tools picked by rules
            deployments=[{"name": "d0", "base_url": upstream.base_url}],
        )
        registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=[spec])
        config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": "quoter"})
        router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
        app = create_app(
            registry, router, knowledge=True, keys_path=folder / "keys.sqlite", request_log_path=folder / "log.sqlite"
        )
        with serving(app) as url:
            yield Gateway(url, folder / "data")


def _cited_files(answer: dict) -> set[str]:
    by_number = {source["n"]: source for source in answer["sources"]}
    return {by_number[n]["file"] for n in answer["citations"]}


def test_where_is_my_order_calls_order_status_and_cites_the_status_and_the_policy(gateway):
    answer = gateway.bot().invoke({"question": "Where is order 1042?"})
    [call] = answer["tool_calls"]
    assert call["name"] == "order_status" and call["args"] == {"order_id": "1042"}
    assert answer["answer"].startswith("Order 1042 for Anna is delivered: placed on ")
    cited = _cited_files(answer)
    assert "order_status" in cited and cited & {"shipping.md", "faq.jsonl"}, answer


def test_a_return_inside_the_window_is_started_and_one_outside_is_refused(gateway):
    inside = gateway.bot().invoke({"question": "I want to return order 1041, the shears are blunt"})
    assert inside["tool_calls"][0]["name"] == "start_return"
    assert inside["answer"].startswith("Return R-1041 started for order 1041: Bypass pruning shears.")
    assert "Wildflower seed mix" in inside["answer"]  # seeds are not taken back, and the answer says so
    assert _cited_files(inside) & {"returns.md", "faq.jsonl"}
    outside = gateway.bot().invoke({"question": "Please refund order 1031"})
    assert outside["answer"].startswith("Return refused: Order 1031 was delivered on ")
    assert "within 30 days of delivery" in outside["answer"]
    shop = gateway.shop()
    assert shop.return_for("1041") is not None and shop.return_for("1031") is None


def test_a_hand_off_opens_a_ticket_the_store_shows(gateway):
    chunks = list(gateway.bot().stream({"question": "Can I talk to a person about order 1043?"}))
    assert chunks[0]["tool_calls"][0]["name"] == "hand_off_to_person"  # tool calls arrive with the sources
    answer = "".join(chunk.get("answer", "") for chunk in chunks)
    ticket = gateway.shop().tickets()[-1]
    assert answer.startswith(f"Ticket {ticket.id} is open")
    assert (ticket.summary, ticket.order_id) == ("Can I talk to a person about order 1043?", "1043")


def test_a_question_without_an_order_runs_no_tool(gateway):
    answer = gateway.bot().invoke({"question": "How long do I have to return an item?"})
    assert answer["tool_calls"] == [] and "30 days of delivery" in answer["answer"]


# ---- the tool-calling path -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def retriever(tmp_path_factory) -> HybridRetriever:
    client = chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("support-chroma")), settings=Settings(anonymized_telemetry=False)
    )
    ensure_sample_kb(client=client)
    return HybridRetriever(
        knowledge_base=KnowledgeBase("shop", client=client, create=False),
        k=3,
        min_relevance=DEFAULT_MIN_RELEVANCE,
        min_relevance_cjk=DEFAULT_MIN_RELEVANCE_ZH,
    )


@pytest.fixture
def tool_bot(retriever, tmp_path) -> Iterator[tuple[str, FakeUpstream, ShopOrders]]:
    with FakeUpstream() as upstream:
        shop = ShopOrders(tmp_path / "shop.sqlite")
        tool_model = ChatOpenAI(base_url=upstream.base_url, api_key="test", model="fake-gpt", max_retries=0)
        app = FastAPI()
        for path, steps in (("/support", 4), ("/one-step", 1)):
            chain = build_support_chain(retriever, tool_model, shop, tool_model=tool_model, max_steps=steps)
            add_routes(app, chain, path=path, enabled_endpoints=("invoke", "stream"))
        with serving(app) as url:
            yield url, upstream, shop


def test_a_tool_calling_model_calls_the_tools_and_answers_from_their_results(tool_bot):
    url, upstream, _ = tool_bot
    question = "Where is order 1042? Write to me at anna.berg@example.com"
    answer = RemoteRunnable(f"{url}/support").invoke({"question": question})
    [call] = answer["tool_calls"]
    assert call["name"] == "order_status" and call["args"] == {"order_id": "1042"}
    assert answer["answer"] == f"order_status said: {call['result']}"
    first, second = (r.body for r in upstream.requests if r.path.endswith("/chat/completions"))
    assert {t["function"]["name"] for t in first["tools"]} == {"order_status", "start_return", "hand_off_to_person"}
    assert first["messages"][0]["role"] == "system" and "Sources:" in first["messages"][0]["content"]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and "Order 1042 for <PERSON_1> is delivered" in tool_message["content"]
    assert "anna.berg@example.com" not in str(upstream.requests) and "Anna" not in str(second)  # masked for the host
    assert "Order 1042 for Anna is delivered" in answer["answer"]  # and put back for the customer


def test_the_tool_loop_is_bounded_then_the_model_must_answer(tool_bot):
    url, upstream, shop = tool_bot
    answer = RemoteRunnable(f"{url}/one-step").invoke({"question": "Hand me off to a person, please"})
    assert [c["name"] for c in answer["tool_calls"]] == ["hand_off_to_person"]
    assert shop.tickets()[-1].summary == "Hand me off to a person, please"
    last = upstream.requests[-1].body
    assert last["tool_choice"] == "none" and last["messages"][-1]["role"] == "tool"
    assert answer["answer"].startswith("hand_off_to_person said: Ticket T-0001 is open")


def test_the_gateway_runs_the_tool_loop_when_a_tool_calling_model_is_available(tmp_path):
    """With a tool-capable catalog model, ``/support`` hands the tools to the router's chat model."""
    with pytest.MonkeyPatch.context() as env, FakeUpstream() as upstream:
        env.setenv("MODELYARD_DATA_DIR", str(tmp_path / "data"))
        specs = [
            ModelSpec(name="caller", provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}]),
            ModelSpec(
                name="no-tools",
                provider="openai",
                quality=90,
                capabilities={"tools": False},
                deployments=[{"name": "d0", "base_url": upstream.base_url}],
            ),
        ]
        registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate({"policies": ["explicit", "cost"], "default_model": "no-tools"})
        router = RouterRunnable(registry, config, experiments=Experiments([], tmp_path / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=True,
            keys_path=tmp_path / "keys.sqlite",
            request_log_path=tmp_path / "log.sqlite",
        )
        with serving(app) as url:
            answer = RemoteRunnable(f"{url}/support").invoke({"question": "Where is order 1042?"})
    [call] = answer["tool_calls"]
    assert call["name"] == "order_status" and call["args"] == {"order_id": "1042"}
    assert answer["answer"] == f"order_status said: {call['result']}"
    chats = [r.body for r in upstream.requests if r.path.endswith("/chat/completions")]
    assert len(chats) == 2 and {body["model"] for body in chats} == {"caller"}  # never the tool-less model
    assert all(body["tools"] for body in chats)
    assert chats[1]["messages"][-1]["role"] == "tool" and "Order 1042" in chats[1]["messages"][-1]["content"]
