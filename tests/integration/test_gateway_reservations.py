"""Budgets hold at admission on every paid route, not only chat: images and prompt APIs reserve too.

A consumer key whose budget allows about two calls sends 20 at once (the fake upstream holds each
answer 0.3 s, so all are under way together). Without a reservation at admission every one of them
passes the budget check (nothing is spent yet) and the key overshoots by 18 calls; with one, the
spend stays within one call's estimate of the budget and the rest are refused with 402.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN = {"Authorization": "Bearer reservations-admin"}
USD_PER_IMAGE = 0.01
USD_PER_1K = 1.0
PROMPT = """\
model: paid
params: {max_tokens: 8}
messages:
  - {role: user, content: "Say hello to {name}"}
"""
PROMPT_ESTIMATE_USD = (12 + 8) / 1000 * USD_PER_1K
"""A generous bound on one prompt call's estimate: a dozen prompt tokens plus max_tokens."""


@dataclass
class Served:
    url: str
    app: object
    upstream: FakeUpstream

    def key(self, budget_usd: float) -> tuple[str, str]:
        """A new key with this budget: ``(id, secret)``."""
        created = httpx.post(f"{self.url}/api/keys", headers=ADMIN, json={"name": "burst", "budget_usd": budget_usd})
        assert created.status_code == 201, created.text
        return created.json()["id"], created.json()["secret"]

    def answered(self, key_id: str) -> list[dict]:
        """The key's successful calls in the request log (flushed first)."""
        gw = self.app.state.gateway  # type: ignore[attr-defined]
        gw.log.flush()
        return [r for r in gw.log.rows(0, time.time() + 60) if r["key_id"] == key_id and r["status"] == 200]


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("reservations")
    (folder / "prompts").mkdir()
    (folder / "prompts" / "hello.yaml").write_text(PROMPT)
    with FakeUpstream() as upstream:
        specs = [
            ModelSpec(
                name="paid",
                provider="openai",
                tasks=["chit_chat"],
                cost={"input_per_1k": USD_PER_1K, "output_per_1k": USD_PER_1K},
                params={"max_tokens": {"type": "int", "min": 1, "max": 100}},
                deployments=[{"name": "d0", "base_url": upstream.base_url, "timeout": 10}],
            ),
            ModelSpec(
                name="painter",
                provider="openai",
                tasks=["image_generation"],
                modalities={"input": ["text"], "output": ["image"]},
                resources={"usd_per_image": USD_PER_IMAGE},
                deployments=[{"name": "d0", "base_url": upstream.base_url, "timeout": 10}],
            ),
        ]
        registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate(
            {"default_model": "paid", "health": {"failure_threshold": 1000}, "fallbacks": {"default": []}}
        )
        router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key="reservations-admin",
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
            prompts_dir=folder / "prompts",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:
            upstream.set_latency(0.3)  # every call is still under way when the others are admitted
            yield Served(url, app, upstream)


def _burst(url: str, path: str, bodies: list[dict], secret: str) -> list[int]:
    """POST every body at once; their statuses."""

    async def run() -> list[int]:
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            answers = await asyncio.gather(*(client.post(path, json=body, headers=headers) for body in bodies))
        for answer in answers:  # refusals carry the API's error shape
            assert answer.status_code == 200 or answer.json()["error"]["code"] == "budget_exceeded", answer.text
        return [answer.status_code for answer in answers]

    return asyncio.run(run())


def test_concurrent_image_calls_overshoot_a_budget_by_one_estimate_at_most(served):
    key_id, secret = served.key(budget_usd=2 * USD_PER_IMAGE)
    bodies = [{"model": "painter", "prompt": f"a lighthouse, take {i}"} for i in range(20)]
    statuses = _burst(served.url, "/v1/images/generations", bodies, secret)
    rows = served.answered(key_id)
    spent = sum(r["cost_usd"] for r in rows)
    assert statuses.count(200) == len(rows) >= 1 and 402 in statuses, statuses
    assert spent <= 2 * USD_PER_IMAGE + USD_PER_IMAGE + 1e-9, (spent, statuses.count(200))


def test_concurrent_prompt_calls_overshoot_a_budget_by_one_estimate_at_most(served):
    key_id, secret = served.key(budget_usd=2 * (5 + 8) / 1000 * USD_PER_1K)  # ~2 calls of 5 prompt + 8 output tokens
    bodies = [{"variables": {"name": f"guest {i}"}} for i in range(20)]
    statuses = _burst(served.url, "/api/prompts/hello", bodies, secret)
    rows = served.answered(key_id)
    spent = sum(r["cost_usd"] for r in rows)
    budget = 2 * (5 + 8) / 1000 * USD_PER_1K
    assert statuses.count(200) == len(rows) >= 1 and 402 in statuses, statuses
    assert spent <= budget + PROMPT_ESTIMATE_USD, (spent, statuses.count(200))
