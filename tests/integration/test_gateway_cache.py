"""The response cache end to end: the gateway on a loopback port, the official ``openai`` client,
the fake upstream counting what actually reached the provider, the real MiniLM for the semantic
cache, and the real request log and ``/metrics``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from app.server import create_app
from app.server.gateway.cache import CacheSettings
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

PRICE = 0.002  # USD per 1k tokens, in and out


def _spec(name: str, url: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        cost={"input_per_1k": PRICE, "output_per_1k": PRICE},
        params={"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 500}},
        deployments=[{"name": "d0", "base_url": url, "timeout": 5}],
    )


@dataclass
class Gateway:
    url: str
    upstream: FakeUpstream
    app: object

    api_key: str = "unused"

    def client(self, **headers: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.api_key, max_retries=0, default_headers=headers)

    def upstream_calls(self) -> int:
        return sum(1 for r in self.upstream.requests if r.path == "/v1/chat/completions")

    def ask(self, text: str, *, system: str | None = None, headers: dict[str, str] | None = None, **extra):
        """One non-streamed chat; returns ``(reply, x-modelyard-cache header)``."""
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
        raw = self.client(**(headers or {})).chat.completions.with_raw_response.create(
            model=extra.pop("model", "fake-chat"), messages=messages, **extra
        )
        return raw.parse(), raw.headers.get("x-modelyard-cache")

    def log_rows(self, since: float) -> list[dict]:
        request_log = self.app.state.gateway.log
        assert request_log.flush()
        return request_log.rows(since, time.time() + 1)


@contextmanager
def _gateway(tmp: Path, upstream: FakeUpstream, **settings) -> Iterator[Gateway]:
    registry = Registry(db_path=tmp / "registry.sqlite", catalog_specs=[_spec("fake-chat", upstream.base_url)])
    config = RoutingConfig.model_validate(
        {
            "policies": ["explicit", "modality", "context_window", "cost"],
            "default_model": "fake-chat",
            "health": {"failure_threshold": 1000},
        }
    )
    router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, tmp / "ab.sqlite"))
    settings.setdefault("master_key", None)
    app = create_app(
        registry,
        router,
        knowledge=False,
        keys_path=tmp / "keys.sqlite",
        request_log_path=tmp / "requests.sqlite",
        log_flush_seconds=0.05,
        **settings,
    )
    with serving(app) as url:
        yield Gateway(url, upstream, app)


@pytest.fixture(scope="module")
def gw(tmp_path_factory) -> Iterator[Gateway]:
    with FakeUpstream() as upstream, _gateway(tmp_path_factory.mktemp("cache"), upstream) as served:
        yield served


def _question() -> str:
    return f"question {uuid.uuid4().hex[:8]}"


# ---- exact cache --------------------------------------------------------------------------------
def test_second_identical_request_is_served_from_the_cache(gw):
    since, text = time.time() - 1, _question()
    first, first_header = gw.ask(text, temperature=0.7, max_tokens=50, user="alice")
    calls = gw.upstream_calls()
    second, second_header = gw.ask(text, temperature=0.7, max_tokens=50, user="bob")  # user is not in the key
    assert (first_header, second_header) == ("miss", "hit")
    assert gw.upstream_calls() == calls  # the provider saw the first request only
    assert second.choices[0].message.content == first.choices[0].message.content == f"echo: {text}"
    assert second.id != first.id and second.model == "fake-chat"
    assert second.usage.completion_tokens == first.usage.completion_tokens  # the answer's own usage
    route = second.model_extra["modelyard_route"]
    assert route["model"] == "fake-chat" and route["deployment"] == "d0"
    assert route["cache"]["result"] == "hit" and route["cache"]["age_s"] >= 0
    expected_saving = (first.usage.prompt_tokens + first.usage.completion_tokens) / 1000 * PRICE
    assert route["cache"]["saved_usd"] == pytest.approx(expected_saving)
    assert "cache" not in first.model_extra["modelyard_route"]

    rows = [r for r in gw.log_rows(since) if r["endpoint"] == "chat"]
    assert [r["cache"] for r in rows[-2:]] == ["miss", "hit"]
    hit = rows[-1]
    assert hit["model"] == "fake-chat" and hit["deployment"] == "d0" and hit["cost_usd"] == 0
    assert hit["input_tokens"] == 0 and hit["output_tokens"] == 0 and hit["status"] == 200
    assert rows[-2]["cost_usd"] == pytest.approx(expected_saving)


def test_parameters_that_change_the_answer_are_part_of_the_key(gw):
    text = _question()
    gw.ask(text, temperature=0.2)
    calls = gw.upstream_calls()
    assert gw.ask(text, temperature=0.9)[1] == "miss"
    assert gw.ask(text, temperature=0.2, max_tokens=3)[1] == "miss"
    assert gw.ask(text, system="answer in French", temperature=0.2)[1] == "miss"
    assert gw.upstream_calls() == calls + 3
    assert gw.upstream.requests[-1].body["temperature"] == 0.2
    assert gw.ask(text, temperature=0.9)[1] == "hit" and gw.upstream_calls() == calls + 3
    # max_completion_tokens is the same parameter as max_tokens
    assert gw.ask(text, temperature=0.2, extra_body={"max_completion_tokens": 3})[1] == "hit"


def test_bypass_with_cache_control_or_the_body_field(gw):
    text = _question()
    gw.ask(text)
    calls = gw.upstream_calls()
    reply, header = gw.ask(text, headers={"Cache-Control": "no-cache"})
    assert header == "bypass" and gw.upstream_calls() == calls + 1 and reply.choices[0].message.content
    assert "cache" not in reply.model_extra["modelyard_route"]
    assert gw.ask(text, extra_body={"modelyard_cache": False})[1] == "bypass"
    assert gw.ask(text, headers={"x-modelyard-cache": "off"})[1] == "bypass"
    assert gw.ask(text, headers={"Cache-Control": "no-store"})[1] == "bypass"
    assert gw.upstream_calls() == calls + 4
    assert gw.ask(text)[1] == "hit" and gw.upstream_calls() == calls + 4

    fresh = _question()  # no-store and "modelyard_cache": false do not write either
    gw.ask(fresh, headers={"Cache-Control": "no-store"})
    gw.ask(fresh, extra_body={"modelyard_cache": False})
    assert gw.ask(fresh)[1] == "miss"
    refreshed = _question()  # no-cache writes the fresh answer
    gw.ask(refreshed, headers={"Cache-Control": "no-cache"})
    assert gw.ask(refreshed)[1] == "hit"


def test_bad_cache_modes_are_refused(gw):
    with pytest.raises(openai.BadRequestError) as header:
        gw.ask(_question(), headers={"x-modelyard-cache": "sometimes"})
    assert header.value.body["param"] == "x-modelyard-cache" and "exact, semantic, off" in header.value.message
    response = httpx.post(
        f"{gw.url}/v1/chat/completions",
        json={"model": "fake-chat", "messages": [{"role": "user", "content": "x"}], "modelyard_cache": "fuzzy"},
    )
    assert response.status_code == 422 and response.json()["error"]["param"].startswith("modelyard_cache")


def test_a_failing_upstream_is_never_cached(gw):
    since, text = time.time(), _question()
    gw.upstream.fail(503, times=1)
    try:
        with pytest.raises(openai.APIStatusError) as failed:
            gw.ask(text)
        assert failed.value.status_code == 502
    finally:
        gw.upstream.heal()
    calls = gw.upstream_calls()
    reply, header = gw.ask(text)
    assert header == "miss" and gw.upstream_calls() == calls + 1 and reply.choices[0].message.content == f"echo: {text}"
    assert gw.ask(text)[1] == "hit"
    rows = [r for r in gw.log_rows(since) if r["endpoint"] == "chat"]
    assert [(r["status"], r["cache"]) for r in rows] == [(502, "miss"), (200, "miss"), (200, "hit")]


# ---- streaming -----------------------------------------------------------------------------------
def test_streams_are_served_from_the_cache_but_not_stored(gw):
    text = _question()
    messages = [{"role": "user", "content": text}]
    streamed = "".join(
        c.choices[0].delta.content or ""
        for c in gw.client().chat.completions.create(model="fake-chat", messages=messages, stream=True)
        if c.choices
    )
    assert streamed == f"echo: {text}"
    assert gw.ask(text)[1] == "miss"  # the streamed answer was not stored
    calls = gw.upstream_calls()

    chunks = list(
        gw.client().chat.completions.create(
            model="fake-chat", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert gw.upstream_calls() == calls
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == f"echo: {text}"
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-1].usage.completion_tokens == 3
    assert chunks[-1].model_extra["modelyard_route"]["cache"]["result"] == "hit"

    with httpx.stream(
        "POST", f"{gw.url}/v1/chat/completions", json={"model": "fake-chat", "messages": messages, "stream": True}
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert response.headers["x-modelyard-cache"] == "hit" and response.headers["content-type"].startswith(
        "text/event-stream"
    )
    assert "fake-chat" in response.headers["x-modelyard-route"]  # known on a hit, unlike a live stream
    assert lines[-1] == "data: [DONE]" and json.loads(lines[-2][6:])["modelyard_route"]["cache"]["result"] == "hit"


# ---- TTL -----------------------------------------------------------------------------------------
def test_entries_expire_after_the_ttl(tmp_path):
    ttl = 1.5
    with FakeUpstream() as upstream, _gateway(tmp_path, upstream, cache=CacheSettings(ttl_seconds=ttl)) as short:
        text = _question()
        assert short.ask(text)[1] == "miss"
        assert short.ask(text)[1] == "hit"
        time.sleep(ttl + 0.5)
        assert short.ask(text)[1] == "miss"
        assert short.upstream_calls() == 2


def test_a_disabled_cache_is_not_consulted(tmp_path):
    with FakeUpstream() as upstream, _gateway(tmp_path, upstream, cache=CacheSettings(enabled=False)) as off:
        text = _question()
        for _ in range(2):
            assert off.ask(text)[1] is None
        assert off.upstream_calls() == 2
        assert "modelyard_cache_requests_total{" not in httpx.get(f"{off.url}/metrics").text


# ---- semantic cache ------------------------------------------------------------------------------
def test_semantic_cache_matches_paraphrases_only_when_asked(gw):
    system = f"geography quiz {uuid.uuid4().hex[:6]}"  # a fresh context: nothing stored yet
    first, header = gw.ask("What's the capital of France?", system=system, extra_body={"modelyard_cache": "semantic"})
    assert header == "miss"
    calls = gw.upstream_calls()

    paraphrase, header = gw.ask(
        "what is the capital city of France", system=system, headers={"x-modelyard-cache": "semantic"}
    )
    assert header == "semantic_hit" and gw.upstream_calls() == calls
    assert paraphrase.choices[0].message.content == first.choices[0].message.content
    cache = paraphrase.model_extra["modelyard_route"]["cache"]
    assert cache["result"] == "semantic_hit" and 0.95 <= cache["similarity"] <= 1.0

    semantic = {"extra_body": {"modelyard_cache": "semantic"}}
    assert gw.ask("How do I bake sourdough bread?", system=system, **semantic)[1] == "miss"
    assert gw.ask("What is the capital of Germany?", system=system, **semantic)[1] == "miss"
    assert gw.ask("what is the capital city of France", system=system)[1] == "miss"  # exact only without opt-in
    # same question, other context (no system message / other parameters): not the same partition
    assert gw.ask("what is the capital city of France", **semantic)[1] == "miss"
    assert gw.ask("what is the capital city of France", system=system, temperature=1.5, **semantic)[1] == "miss"
    assert gw.upstream_calls() == calls + 5


def test_semantic_cache_per_model_from_the_settings(tmp_path):
    settings = CacheSettings(semantic_models=["fake-chat"])
    with FakeUpstream() as upstream, _gateway(tmp_path, upstream, cache=settings) as semantic:
        assert semantic.ask("How do I reset my password?")[1] == "miss"
        assert semantic.ask("How can I reset my password")[1] == "semantic_hit"
        assert semantic.ask("Is the store open on Sunday?")[1] == "miss"
        assert semantic.ask("Is the store open on Monday?")[1] == "miss"  # 0.93 similar, another question
        assert semantic.upstream_calls() == 3


# ---- accounting ----------------------------------------------------------------------------------
def test_metrics_count_lookups_by_kind_and_result(gw):
    since = time.time()
    text = _question()
    gw.ask(text)
    gw.ask(text)
    gw.ask(text, headers={"Cache-Control": "no-cache"})
    gw.ask(f"{text} semantic", extra_body={"modelyard_cache": "semantic"})
    metrics = httpx.get(f"{gw.url}/metrics").text

    def count(kind: str, result: str) -> float:
        line = f'modelyard_cache_requests_total{{kind="{kind}",result="{result}"}}'
        return float(next(row for row in metrics.splitlines() if row.startswith(line)).split()[-1])

    assert count("exact", "hit") >= 1 and count("exact", "miss") >= 1 and count("exact", "bypass") >= 1
    assert count("semantic", "miss") >= 1
    rows = [r for r in gw.log_rows(since) if r["endpoint"] == "chat"]
    assert [r["cache"] for r in rows] == ["miss", "hit", "bypass", "miss"]
    assert all("question" not in json.dumps(r) for r in rows)  # still no prompt text in the log


# ---- consumer keys ---------------------------------------------------------------------------------
def test_a_key_limited_to_some_models_has_its_own_entries_and_pays_nothing_on_a_hit(tmp_path):
    admin = "cache-admin"
    with FakeUpstream() as upstream, _gateway(tmp_path, upstream, master_key=admin) as locked:

        def key(**body) -> str:
            created = httpx.post(f"{locked.url}/api/keys", json=body, headers={"Authorization": f"Bearer {admin}"})
            assert created.status_code == 201, created.text
            return created.json()["secret"]

        limited = Gateway(locked.url, upstream, locked.app, api_key=key(name="limited", allowed_models=["fake-chat"]))
        anyone = Gateway(locked.url, upstream, locked.app, api_key=key(name="anyone"))
        text = _question()
        assert anyone.ask(text, model="auto")[1] == "miss"
        assert limited.ask(text, model="auto")[1] == "miss"  # not the unrestricted key's entry
        assert limited.ask(text, model="auto")[1] == "hit" and anyone.ask(text, model="auto")[1] == "hit"
        assert locked.upstream_calls() == 2
        keys = httpx.get(f"{locked.url}/api/keys", headers={"Authorization": f"Bearer {admin}"}).json()["data"]
        spent = {k["name"]: k["spent_usd"] for k in keys}
        assert spent["limited"] == pytest.approx(spent["anyone"]) and spent["limited"] > 0  # one paid call each
