"""One request, one settlement: a request-log row and one charge to the key, whatever the outcome.

The gateway runs on a real loopback port over real fake upstreams; the consumer is the official
``openai`` client (and ``httpx`` for a stream it abandons). After each outcome — success as JSON
and as a stream, every upstream failing, the client going away mid-stream, a refusal — the test
reads the request log and the key's spend: exactly one new row, and the key charged exactly the
row's tokens and cost. Also: a named model is never classified; the overhead header is present.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from routers.task import TaskClassifier
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN = {"Authorization": "Bearer lifecycle-admin"}


class CountingClassifier(TaskClassifier):
    """The real rules-only classifier, counting how often the router asks it."""

    calls = 0

    def classify(self, text: str):  # type: ignore[no-untyped-def]
        CountingClassifier.calls += 1
        return super().classify(text)


def _spec(name: str, url: str, price: float) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        cost={"input_per_1k": price, "output_per_1k": price},
        params={"max_tokens": {"type": "int", "min": 1, "max": 1000}},
        deployments=[{"name": "d0", "base_url": url, "timeout": 5}],
    )


@dataclass
class Served:
    url: str
    app: object
    upstream: FakeUpstream
    secret: str
    key_id: str

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=self.secret, max_retries=0)

    def state(self) -> tuple[list[dict], dict]:
        """The log rows of this key (flushed) and the key's spend as the admin API shows it."""
        gw = self.app.state.gateway  # type: ignore[attr-defined]
        gw.log.flush()
        rows = [r for r in gw.log.rows(0, time.time() + 60) if r["key_id"] == self.key_id]
        key = next(k for k in httpx.get(f"{self.url}/api/keys", headers=ADMIN).json()["data"] if k["id"] == self.key_id)
        return rows, key


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("lifecycle")
    with FakeUpstream() as upstream, FakeUpstream() as broken:
        broken.fail(503)
        specs = [_spec("paid", upstream.base_url, 0.01), _spec("broken", broken.base_url, 0.0)]
        registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate(
            {
                "policies": ["explicit", "modality", "context_window", "task", "cost"],
                "default_model": "paid",
                "health": {"failure_threshold": 1000},
                "fallbacks": {"default": []},
            }
        )
        classifier = CountingClassifier.from_config(rules_only=True)
        router = RouterRunnable(
            registry, config, classifier=classifier, experiments=Experiments([], folder / "ab.sqlite")
        )
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key="lifecycle-admin",
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:
            key = {"name": "lifecycle", "allowed_models": ["paid", "broken"], "tpm": 10_000_000}
            created = httpx.post(f"{url}/api/keys", headers=ADMIN, json=key).json()
            yield Served(url, app, upstream, created["secret"], created["id"])


def _settled_once(served: Served, before: tuple[list[dict], dict]) -> dict:
    """The one new row since ``before``; the key was charged exactly what it says."""
    rows_before, key_before = before
    deadline = time.monotonic() + 5
    while True:
        rows, key = served.state()
        if len(rows) > len(rows_before) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.2)  # a second (wrong) settlement would land within this
    rows, key = served.state()
    assert len(rows) == len(rows_before) + 1, rows[len(rows_before) :]
    row = next(r for r in rows if r["id"] not in {b["id"] for b in rows_before})
    assert key["spent_usd"] == pytest.approx(key_before["spent_usd"] + row["cost_usd"])
    tokens = row["input_tokens"] + row["output_tokens"]
    assert key["tokens_last_minute"] == key_before["tokens_last_minute"] + tokens
    return row


def hi(text: str) -> list[dict[str, str]]:
    """A distinct prompt per test: a repeated one would be answered by the response cache."""
    return [{"role": "user", "content": text}]


def test_a_success_is_one_row_and_one_charge(served):
    before = served.state()
    raw = served.client().chat.completions.with_raw_response.create(model="paid", messages=hi("prompt 1"))
    assert float(raw.headers["x-modelyard-overhead-ms"]) >= 0
    row = _settled_once(served, before)
    assert (row["status"], row["model"], row["endpoint"]) == (200, "paid", "chat")
    assert row["cost_usd"] > 0 and row["output_tokens"] > 0


def test_a_finished_stream_is_one_row_and_one_charge(served):
    before = served.state()
    chunks = list(served.client().chat.completions.create(model="paid", messages=hi("prompt 2"), stream=True))
    assert chunks and chunks[-1].model == "paid"
    row = _settled_once(served, before)
    assert (row["status"], row["endpoint"]) == (200, "chat_stream") and row["cost_usd"] > 0


def test_every_upstream_failing_is_one_row_and_no_charge(served):
    before = served.state()
    with pytest.raises(openai.APIStatusError) as failed:
        served.client().chat.completions.create(model="broken", messages=hi("prompt 3"))
    assert failed.value.status_code == 502
    row = _settled_once(served, before)
    assert (row["status"], row["error_class"], row["cost_usd"]) == (502, "RoutingError", 0)


def test_a_refusal_is_one_row(served):
    before = served.state()
    with pytest.raises(openai.PermissionDeniedError):
        served.client().chat.completions.create(model="not-allowed-for-this-key", messages=hi("prompt 4"))
    row = _settled_once(served, before)
    assert (row["status"], row["error_class"]) == (403, "ModelNotAllowed")


def test_a_client_that_goes_away_mid_stream_is_one_row(served):
    served.upstream.set_latency(0.0, chunk_delay=0.2)
    try:
        before = served.state()
        body = {"model": "paid", "messages": hi("a stream left early"), "stream": True}
        headers = {"Authorization": f"Bearer {served.secret}"}
        with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, headers=headers) as response:
            assert response.status_code == 200
            for line in response.iter_lines():  # up to the first piece of the answer, then hang up
                if '"content":"echo' in line.replace(" ", ""):
                    break
        row = _settled_once(served, before)
        assert (row["status"], row["error_class"]) == (499, "ClientDisconnected")
        assert row["output_tokens"] >= 1 and row["cost_usd"] > 0  # charged what was generated
    finally:
        served.upstream.set_latency(0.0, chunk_delay=0.0)


def test_a_named_model_is_not_classified_and_auto_is(served):
    CountingClassifier.calls = 0
    served.client().chat.completions.create(model="paid", messages=hi("prompt 5"))
    served.client().chat.completions.create(model="paid", messages=hi("prompt 6"), stream=True)
    assert CountingClassifier.calls == 0
    served.client().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi again"}])
    assert CountingClassifier.calls == 1


def test_concurrent_calls_overshoot_a_budget_by_one_estimate_at_most(served):
    import asyncio

    key = httpx.post(
        f"{served.url}/api/keys",
        headers=ADMIN,
        json={"name": "small budget", "allowed_models": ["paid"], "budget_usd": 0.0005},
    ).json()
    served.upstream.set_latency(0.3)  # every call is still under way when the others are admitted

    async def one(client: httpx.AsyncClient, i: int) -> int:
        body = {"model": "paid", "messages": hi(f"budget {i}"), "max_tokens": 8}
        answer = await client.post(
            "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key['secret']}"}
        )
        return answer.status_code

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
            return await asyncio.gather(*(one(client, i) for i in range(50)))

    try:
        statuses = asyncio.run(burst())
    finally:
        served.upstream.set_latency(0.0)
    gw = served.app.state.gateway  # type: ignore[attr-defined]
    gw.log.flush()
    rows = [r for r in gw.log.rows(0, time.time() + 60) if r["key_id"] == key["id"] and r["status"] == 200]
    spent = sum(r["cost_usd"] for r in rows)
    one_estimate = (12 + 8) / 1000 * 0.01  # a generous bound on one call's estimate: prompt + max_tokens at $0.01/1k
    assert statuses.count(200) == len(rows) and 402 in statuses
    assert spent <= 0.0005 + one_estimate, (spent, statuses.count(200))
