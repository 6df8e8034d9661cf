"""Three gateway replicas on one Redis share their keys' limits, deployment health and cache (issue 16).

Three ``python -m app.server`` processes with ``REDIS_URL`` (a prefix of this run's own) and one
data folder serve one fake upstream. The rpm limit is exact across them; 50 concurrent calls on a
small budget overshoot it by at most one reservation; a key revoked on A is refused by B and C
within a second; a deployment failing through A is skipped by B and C; an answer served by A is
a cache hit on B and C; Redis round-trips per request are printed (``-s`` shows them), not asserted.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import drop_prefix, fresh_prefix, redis_url, require_redis
from tests.support.replicas import gateway_replica
from tests.support.upstream import FakeUpstream
from tests.support.waiting import eventually

MASTER = "redis-limits-admin"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
USD_PER_1K = 10.0
MAX_TOKENS = 20


_eventually = partial(eventually, seconds=10.0, step=0.02)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeUpstream, list[str]]]:
    client = require_redis()
    prefix = fresh_prefix("replicas")
    data_dir: Path = tmp_path_factory.mktemp("replicas")
    env = {"REDIS_URL": redis_url(), "MODELYARD_REDIS_PREFIX": prefix}
    with FakeUpstream() as upstream, ExitStack() as stack:
        urls = [stack.enter_context(gateway_replica(data_dir, MASTER, **env)) for _ in range(3)]
        spec = {
            "name": "paid",
            "provider": "openai",
            "tasks": ["chit_chat"],
            "cost": {"input_per_1k": USD_PER_1K, "output_per_1k": USD_PER_1K},
            "params": {"max_tokens": {"type": "int", "default": MAX_TOKENS, "min": 1, "max": 256}},
            "deployments": [{"name": "d0", "base_url": upstream.base_url}],
        }
        assert httpx.post(f"{urls[0]}/api/models", json=spec, headers=ADMIN).status_code == 201
        plain = _create(urls[0], {"name": "warm-up"})
        for url in urls:  # the model and the key reached every replica
            assert _eventually(lambda url=url: _chat(url, plain["secret"]).status_code == 200)
        yield upstream, urls
    drop_prefix(client, prefix)
    client.close()


def _create(url: str, body: dict) -> dict:
    response = httpx.post(f"{url}/api/keys", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def _listed(url: str, key_id: str) -> dict | None:
    listing = httpx.get(f"{url}/api/keys", headers=ADMIN).json()["data"]
    return next((key for key in listing if key["id"] == key_id), None)


def _known_everywhere(urls: list[str], key_id: str) -> None:
    for url in urls:
        assert _eventually(lambda url=url: _listed(url, key_id) is not None)


def _chat(url: str, secret: str, client: httpx.Client | None = None) -> httpx.Response:
    body = {
        "model": "paid",
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": f"hello {uuid.uuid4().hex}"}],  # never a cache hit
    }
    post = client.post if client is not None else httpx.post
    return post(f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=30)


def _roundtrips(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    found = re.findall(r"^modelyard_redis_roundtrips_total\{use=\"\w+\"\} (\S+)$", text, re.MULTILINE)
    return sum(float(value) for value in found)  # limits and cache


def test_rpm_is_exact_across_three_replicas(cluster):
    _, urls = cluster
    key = _create(urls[0], {"name": "rpm", "rpm": 60})
    _known_everywhere(urls, key["id"])
    with ThreadPoolExecutor(9) as pool, httpx.Client() as client:
        statuses = list(pool.map(lambda i: _chat(urls[i % 3], key["secret"], client).status_code, range(90)))
    assert statuses.count(200) == 60 and statuses.count(429) == 30


def test_fifty_concurrent_calls_overshoot_a_small_budget_by_one_reservation_at_most(cluster):
    upstream, urls = cluster
    key = _create(urls[1], {"name": "budget", "budget_usd": 1.0})
    _known_everywhere(urls, key["id"])
    upstream.set_latency(0.3)  # every call is in flight while the others are admitted
    try:
        with ThreadPoolExecutor(50) as pool, httpx.Client(limits=httpx.Limits(max_connections=60)) as client:
            answers = list(pool.map(lambda i: _chat(urls[i % 3], key["secret"], client), range(50)))
    finally:
        upstream.set_latency(0.0)
    ok = [a for a in answers if a.status_code == 200]
    assert ok and all(a.status_code in (200, 402) for a in answers)
    burst = len(ok)
    refused_in_a_row = 0
    for i in range(60):  # then one at a time, until every replica in turn says the budget is spent
        answer = _chat(urls[i % 3], key["secret"])
        refused_in_a_row = refused_in_a_row + 1 if answer.status_code == 402 else 0
        if answer.status_code == 200:
            ok.append(answer)
        if refused_in_a_row == 3:
            break
    usages = [a.json()["usage"] for a in ok]
    dearest = max((u["prompt_tokens"] + MAX_TOKENS) * USD_PER_1K / 1000 for u in usages)  # ≥ one call's estimate
    spent = sum(u["prompt_tokens"] + u["completion_tokens"] for u in usages) * USD_PER_1K / 1000
    print(f"\nbudget $1: {burst} of 50 concurrent calls admitted, {len(ok)} in all; spent ${spent:.4f}")
    assert spent <= 1.0 + dearest
    shared = lambda: _listed(urls[2], key["id"])["spent_usd"]  # noqa: E731
    assert _eventually(lambda: shared() == pytest.approx(spent)), (shared(), spent)  # seen on C


def test_a_key_revoked_on_a_is_refused_on_b_and_c_within_a_second(cluster):
    _, (a, b, c) = cluster
    key = _create(a, {"name": "revoked", "rpm": 1000})
    for url in (a, b, c):
        assert _eventually(lambda url=url: _chat(url, key["secret"]).status_code == 200)
    assert httpx.delete(f"{a}/api/keys/{key['id']}", headers=ADMIN).status_code == 200
    revoked_at = time.monotonic()
    for url in (b, c):
        assert _eventually(lambda url=url: _chat(url, key["secret"]).status_code == 401, seconds=1.0)
    print(f"\nrevocation seen by B and C after {time.monotonic() - revoked_at:.3f} s")


def test_redis_round_trips_per_request_are_counted(cluster):
    _, urls = cluster
    a = urls[0]
    key = _create(a, {"name": "round-trips", "rpm": 1000, "tpm": 1_000_000, "budget_usd": 1000.0})
    with httpx.Client() as client:
        assert _chat(a, key["secret"], client).status_code == 200
        before, calls = _roundtrips(a), 20
        for _ in range(calls):
            assert _chat(a, key["secret"], client).status_code == 200
        under_load = _roundtrips(a) - before
        time.sleep(0.3)  # the last settlement goes out on its own
        settled = _roundtrips(a) - before
    print(
        f"\nRedis round-trips per cache-miss chat (rpm + tpm + budget, shared exact cache): {under_load / calls:.2f} "
        f"back to back, {settled / calls:.2f} with the last settlement"
    )
    assert settled >= under_load > 0


def _metrics(url: str) -> str:
    return httpx.get(f"{url}/metrics").text


def test_a_deployment_failing_through_a_is_skipped_by_b_and_c(cluster):
    healthy, (a, b, c) = cluster
    with FakeUpstream() as broken:
        broken.fail(status=503)
        spec = {
            "name": "flaky",
            "provider": "openai",
            "tasks": ["chit_chat"],
            "deployments": [
                {"name": "bad", "base_url": broken.base_url},
                {"name": "good", "base_url": healthy.base_url},
            ],
        }
        assert httpx.post(f"{a}/api/models", json=spec, headers=ADMIN).status_code == 201
        body = {"model": "flaky", "messages": [{"role": "user", "content": "hi"}], "modelyard_cache": False}
        post = lambda url: httpx.post(f"{url}/v1/chat/completions", json=body, headers=ADMIN, timeout=30)  # noqa: E731
        for url in (b, c):  # the model reached every replica
            assert _eventually(lambda url=url: post(url).status_code == 200)
        broken.fail(status=503)
        while 'modelyard_deployment_cooling{deployment="bad",model="flaky"} 1.0' not in _metrics(a):
            assert post(a).status_code == 200  # the good deployment answers while the bad one fails
            assert len(broken.requests) < 20, "A never cooled the failing deployment down"
        failed_on_a = len(broken.requests)
        for url in (b, c):  # they hear of it (pub/sub): their gauge says so before any call of theirs
            assert _eventually(lambda url=url: 'cooling{deployment="bad",model="flaky"} 1.0' in _metrics(url))
            answer = post(url)
            assert answer.status_code == 200
            assert "deployment bad in cooldown" in answer.json()["modelyard_route"]["reason"]
        assert len(broken.requests) == failed_on_a  # B and C never called it themselves
        print(f"\n{failed_on_a} failures through A cooled 'bad' down on B and C too")


def test_an_answer_served_by_a_is_a_cache_hit_on_b_and_c(cluster):
    upstream, (a, b, c) = cluster
    body = {
        "model": "paid",
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": f"once {uuid.uuid4()}"}],
    }
    post = lambda url: httpx.post(f"{url}/v1/chat/completions", json=body, headers=ADMIN, timeout=30)  # noqa: E731
    first = post(a)
    assert first.status_code == 200 and first.headers["x-modelyard-cache"] == "miss"
    called = len(upstream.requests)
    assert _eventually(lambda: post(b).headers["x-modelyard-cache"] == "hit")  # stored by A's writer thread
    replay = post(c)
    assert replay.headers["x-modelyard-cache"] == "hit"
    answer = lambda response: response.json()["choices"][0]["message"]["content"]  # noqa: E731
    assert answer(replay) == answer(first)
    assert len(upstream.requests) == called  # neither B nor C called the provider
