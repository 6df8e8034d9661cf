"""Two gateways on one PostgreSQL database (``database_url``, as ``DATABASE_URL`` sets it): what one
changes — keys, registered models, the request log — the other sees, each within its refresh interval.

Each gateway is its own app, engine and key ring on a real loopback port; the consumer is the official
``openai`` client, the admin ``httpx``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import openai
import pytest

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.postgres import scratch_schema
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "pg-admin-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HI = [{"role": "user", "content": "hello"}]


def _within(seconds: float, check: Callable[[], bool]) -> bool:
    """Poll ``check`` for at most ``seconds`` (a bound on the wait, not a sleep the test relies on)."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def two_gateways(tmp_path, postgres_database) -> Iterator[tuple[str, str, FakeUpstream]]:
    with FakeUpstream() as upstream, scratch_schema(postgres_database) as url, ExitStack() as stack:
        spec = ModelSpec(name="hosted", provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}])
        a, b = (
            stack.enter_context(serving(gateway_app(tmp_path / name, [spec], database_url=url, master_key=ADMIN_KEY)))
            for name in ("a", "b")
        )
        yield a, b, upstream


def _chat(url: str, secret: str) -> int:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key=secret, max_retries=0)
    try:
        client.chat.completions.create(model="hosted", messages=HI)
    except openai.APIStatusError as exc:
        return exc.status_code
    return 200


def test_a_key_issued_or_revoked_on_one_gateway_holds_on_the_other_within_a_second(two_gateways):
    a, b, _ = two_gateways
    created = httpx.post(f"{a}/api/keys", headers=ADMIN, json={"name": "team-a"}).json()
    assert _within(1.0, lambda: _chat(b, created["secret"]) == 200)
    assert httpx.delete(f"{b}/api/keys/{created['id']}", headers=ADMIN).status_code == 200
    assert _within(1.0, lambda: _chat(a, created["secret"]) == 401)
    listed = {key["id"]: key for key in httpx.get(f"{a}/api/keys", headers=ADMIN).json()["data"]}
    assert listed[created["id"]]["revoked_at"] is not None


def test_a_model_registered_on_one_gateway_is_served_by_the_other(two_gateways):
    a, b, upstream = two_gateways
    spec = {"name": "added", "provider": "openai", "deployments": [{"name": "d0", "base_url": upstream.base_url}]}
    assert httpx.post(f"{a}/api/models", headers=ADMIN, json=spec).status_code == 201

    def listed_on_b() -> bool:
        return "added" in {m["id"] for m in httpx.get(f"{b}/v1/models", headers=ADMIN).json()["data"]}

    assert _within(1.0, listed_on_b)
    client = openai.OpenAI(base_url=f"{b}/v1", api_key=ADMIN_KEY, max_retries=0)
    assert client.chat.completions.create(model="added", messages=HI).choices[0].message.content


def test_calls_on_both_gateways_land_in_one_request_log(two_gateways):
    a, b, _ = two_gateways
    created = httpx.post(f"{a}/api/keys", headers=ADMIN, json={"name": "team-a"}).json()
    assert _chat(a, created["secret"]) == 200
    assert _within(1.0, lambda: _chat(b, created["secret"]) == 200)
    httpx.get(f"{a}/api/usage", headers=ADMIN)  # flushes A's queued rows

    def requests_seen_by_b() -> int:
        usage = httpx.get(f"{b}/api/usage", headers=ADMIN).json()
        return sum(row["requests"] for row in usage["models"] if row["key_id"] == created["id"])

    assert requests_seen_by_b() == 2
