"""An ``http_template`` model receives the whole conversation, and URL values arrive intact.

The official ``openai`` client calls the gateway on loopback; the gateway calls the fake upstream's
``/template/{name}`` route, which records the body and the decoded query of every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import openai
import pytest

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

RAG_SYSTEM = "Answer from the sources only.\n[1] returns.md: items can be returned within 30 days."
CONVERSATION = [
    {"role": "system", "content": RAG_SYSTEM},
    {"role": "user", "content": "Can I return shoes?"},
    {"role": "assistant", "content": "Yes, within 30 days [1]."},
    {"role": "user", "content": "And after 40 days?"},
]


@dataclass
class Served:
    url: str
    upstream: FakeUpstream

    def ask(self, model: str, messages: list[dict]) -> str:
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
        return reply.choices[0].message.content or ""

    def last_template_request(self):
        return next(r for r in reversed(self.upstream.requests) if r.path.startswith("/template/"))


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("template-conversation")
    with FakeUpstream() as upstream:
        extract = "data.items[].attributes.answer"
        specs = [
            ModelSpec(
                name="conversational",
                provider="http_template",
                http_template={
                    "req_url_template": f"{upstream.root_url}/template/chat",
                    "body": {
                        "messages": "{MESSAGES}",
                        "system": "{SYSTEM_PROMPT}",
                        "history": "{HISTORY}",
                        "question": "{USER_PROMPT}",
                        "note": "asked: {USER_PROMPT}",
                    },
                    "response_extract": extract,
                },
            ),
            ModelSpec(
                name="by-url",
                provider="http_template",
                http_template={
                    "req_url_template": f"{upstream.root_url}/template/{{MODEL_NAME}}?q={{USER_PROMPT}}&v=1",
                    "body": {},
                    "response_extract": extract,
                },
                deployments=[{"name": "d0", "model_id": "modèle un"}],
            ),
        ]
        registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": "conversational"})
        router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
        )
        with serving(app) as url:
            yield Served(url, upstream)


def test_the_rag_context_and_both_turns_reach_the_upstream(served):
    served.ask("conversational", CONVERSATION)
    body = served.last_template_request().body
    assert body["messages"] == CONVERSATION  # a JSON list, not a string
    assert body["system"] == RAG_SYSTEM
    assert body["history"] == "User: Can I return shoes?\nAssistant: Yes, within 30 days [1]."
    assert body["question"] == "And after 40 days?" and body["note"] == "asked: And after 40 days?"


def test_a_prompt_in_the_url_arrives_as_one_value(served):
    prompt = "a/b? c&d=1 #é 退货"
    answer = served.ask("by-url", [{"role": "user", "content": prompt}])
    recorded = served.last_template_request()
    assert recorded.query == {"q": [prompt], "v": ["1"]}
    assert answer.startswith("template modèle un:")  # the model name, decoded, is the route's {name}
