"""Who may get whose cached answer, end to end: the gateway on a loopback port with consumer keys, the
official ``openai`` client, the fake upstream recording every request that reached the provider, and
the real MiniLM for the semantic cache.

* a semantic hit does not cross API keys (issue 13): a paraphrase match is a guess, and one tenant's
  answer must not reach another tenant's differently worded question;
* an answer routed by an A/B experiment is not cached: the key leaves out ``user``, which picks the arm.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import ExperimentConfig, RoutingConfig
from routers.experiments import Experiments, assign_arm
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN = "mk-cache-scopes"
EXPERIMENT = {
    "name": "tone",
    "default": True,
    "arms": [{"name": "A", "model": "model-a", "weight": 50}, {"name": "B", "model": "model-b", "weight": 50}],
}


def _spec(name: str, url: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        params={"max_tokens": {"type": "int", "min": 1, "max": 500}},
        deployments=[{"name": "d0", "base_url": url, "model_id": f"upstream-{name}"}],
    )


class Served:
    def __init__(self, url: str, upstream: FakeUpstream, router: RouterRunnable):
        self.url, self.upstream, self.router = url, upstream, router

    def key(self, name: str) -> str:
        created = httpx.post(f"{self.url}/api/keys", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"})
        assert created.status_code == 201, created.text
        return str(created.json()["secret"])

    def ask(self, secret: str, text: str, **extra):
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key=secret, max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            messages=[{"role": "user", "content": text}], max_tokens=50, **extra
        )
        return raw.parse(), raw.headers.get("x-modelyard-cache")

    def questions_received(self) -> list[str]:
        """The last user message of every chat request that reached the provider."""
        return [r.body["messages"][-1]["content"] for r in self.upstream.requests if r.path == "/v1/chat/completions"]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("cache-scopes")
    with FakeUpstream() as upstream:
        registry = Registry(
            db_path=folder / "registry.sqlite",
            catalog_specs=[_spec("model-a", upstream.base_url), _spec("model-b", upstream.base_url)],
        )
        config = RoutingConfig.model_validate(
            {
                "policies": ["explicit", "ab", "cost"],
                "default_model": "model-a",
                "health": {"failure_threshold": 1000},
                "experiments": [EXPERIMENT],
            }
        )
        router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, folder / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key=ADMIN,
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
            responses_path=folder / "responses.sqlite",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:
            yield Served(url, upstream, router)


def test_a_semantic_hit_does_not_cross_api_keys(served):
    alice, bob = served.key("alice"), served.key("bob")
    topic = uuid.uuid4().hex[:6]
    semantic = {"model": "model-a", "extra_body": {"modelyard_cache": "semantic"}}
    assert served.ask(alice, f"How do I reset my {topic} password?", **semantic)[1] == "miss"
    answer, header = served.ask(bob, f"How can I reset my {topic} password", **semantic)
    assert header == "miss"
    assert served.questions_received()[-1] == f"How can I reset my {topic} password"  # bob's question went on
    assert answer.choices[0].message.content == f"echo: How can I reset my {topic} password"
    calls = len(served.questions_received())
    # each key still matches its own paraphrases
    assert served.ask(alice, f"how can I reset my {topic} password?", **semantic)[1] == "semantic_hit"
    assert served.ask(bob, f"How do I reset my {topic} password", **semantic)[1] == "semantic_hit"
    assert len(served.questions_received()) == calls


def test_an_answer_routed_by_an_experiment_is_not_served_to_another_arm(served):
    secret = served.key("experimenter")
    arms = ExperimentConfig.model_validate(EXPERIMENT)
    on_a = next(f"user-{i}" for i in range(100) if assign_arm(arms, f"user-{i}").name == "A")
    on_b = next(f"user-{i}" for i in range(100) if assign_arm(arms, f"user-{i}").name == "B")
    text = f"Say something nice {uuid.uuid4().hex[:6]}"

    first, header = served.ask(secret, text, model="auto", user=on_a)
    assert header == "miss" and first.model == "model-a" and first.model_extra["modelyard_route"]["arm"] == "A"
    second, header = served.ask(secret, text, model="auto", user=on_b)  # the same request, another user
    assert header == "miss" and second.model == "model-b" and second.model_extra["modelyard_route"]["arm"] == "B"
    again, header = served.ask(secret, text, model="auto", user=on_a)  # each request is an observation
    assert header == "miss" and again.model == "model-a"
    assert served.questions_received()[-3:] == [text] * 3

    # every request was an observation of its arm (the other test names its model: outside the experiment)
    assert {row["arm"]: row["requests"] for row in served.router.experiments.summary("tone")} == {"A": 2, "B": 1}
