"""A provider's error text reaches the admin, never a consumer key.

The fake upstream of model ``flaky`` fails with a distinctive message; ``steady`` (its configured
fallback) answers. A consumer key sees each failed attempt's model, deployment and error class in
the 502 body and in ``x-modelyard-route``; the master key sees the provider's words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import httpx
import pytest

from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

MASTER = "master-upstream-text"
LEAK = "db-7.internal rejected token sk-proj-LEAKED"


@dataclass
class Served:
    url: str
    consumer: str

    def chat(self, token: str, model: str) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hello"}]}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("upstream-text")
    with FakeUpstream() as broken, FakeUpstream() as healthy:
        broken.fail(status=500, message=LEAK)
        specs = [
            ModelSpec(name=name, provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}])
            for name, upstream in (("flaky", broken), ("alone", broken), ("steady", healthy))
        ]
        routing = {
            "policies": ["explicit"],
            "default_model": "steady",
            "max_fallback_models": 0,
            "fallbacks": {"by_model": {"flaky": ["steady"]}},
            "health": {"failure_threshold": 1000},
        }
        app = gateway_app(folder, specs, routing=routing, master_key=MASTER)
        with serving(app) as url:
            created = httpx.post(f"{url}/api/keys", headers={"Authorization": f"Bearer {MASTER}"}, json={"name": "c"})
            yield Served(url, created.json()["secret"])


def test_a_consumer_sees_the_failed_attempt_without_the_providers_text(served):
    failed = served.chat(served.consumer, "alone")
    assert failed.status_code == 502, failed.text
    error = failed.json()["error"]
    assert LEAK not in failed.text and "db-7" not in failed.text
    (attempt,) = error["attempts"]
    assert attempt["model"] == "alone" and attempt["deployment"] == "d0"
    assert attempt["error"].endswith("Error") and ":" not in attempt["error"]
    assert f"alone/d0: {attempt['error']}" in error["message"]


def test_the_admin_sees_the_providers_text(served):
    failed = served.chat(MASTER, "alone")
    assert failed.status_code == 502
    (attempt,) = failed.json()["error"]["attempts"]
    assert LEAK in attempt["error"] and LEAK in failed.json()["error"]["message"]


def test_the_route_header_after_a_fallback_keeps_the_providers_text_for_the_admin(served):
    consumer = served.chat(served.consumer, "flaky")
    admin = served.chat(MASTER, "flaky")
    assert consumer.status_code == admin.status_code == 200, consumer.text
    consumer_route, admin_route = (unquote(r.headers["x-modelyard-route"]) for r in (consumer, admin))
    assert "answered by steady/d0" in consumer_route and "flaky/d0 failed (" in consumer_route
    assert LEAK not in consumer_route and LEAK in admin_route


def test_the_route_in_the_body_after_a_fallback_hides_the_text_from_a_consumer(served):
    consumer = served.chat(served.consumer, "flaky").json()["modelyard_route"]
    body = {"model": "flaky", "messages": [{"role": "user", "content": "not cached yet"}]}
    fresh = httpx.post(f"{served.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {MASTER}"})
    admin = fresh.json()["modelyard_route"]
    assert LEAK not in str(consumer) and LEAK in str(admin)
    failed = [a for a in consumer["attempts"] if a["error"]]
    assert [(a["model"], a["error"]) for a in failed] == [("flaky", failed[0]["error"])]
    assert failed[0]["error"].endswith("Error") and "flaky/d0 failed (" in consumer["reason"]
    # a cached copy may be replayed to anyone: it is stored without the provider's text
    replayed = httpx.post(
        f"{served.url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {served.consumer}"}
    )
    assert replayed.json()["modelyard_route"]["cache"]["result"] == "hit" and LEAK not in replayed.text


def test_the_route_on_a_streams_last_chunk_hides_the_text_from_a_consumer(served):
    body = {"model": "flaky", "messages": [{"role": "user", "content": "stream it"}], "stream": True}
    for token, leaks in ((served.consumer, False), (MASTER, True)):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("POST", f"{served.url}/v1/chat/completions", json=body, headers=headers) as response:
            text = "".join(response.iter_text())
        assert '"modelyard_route"' in text and (LEAK in text) is leaks
