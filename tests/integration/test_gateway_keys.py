"""Consumer API keys end to end: the gateway on a real loopback port, the official ``openai``
client as the consumer, the admin API over ``httpx``, real SQLite files that outlive the app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "keys-admin-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
HI = [{"role": "user", "content": "hello"}]


def _spec(name: str, url: str, price: float = 0.0) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        cost={"input_per_1k": price, "output_per_1k": price},
        deployments=[{"name": "d0", "base_url": url, "timeout": 5}],
    )


@dataclass
class Gateway:
    url: str
    app: object

    def consumer(self, secret: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=secret, max_retries=0)

    def create_key(self, **body) -> dict:
        response = httpx.post(f"{self.url}/api/keys", headers=ADMIN, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    def keys(self) -> list[dict]:
        return httpx.get(f"{self.url}/api/keys", headers=ADMIN).json()["data"]

    def key(self, key_id: str) -> dict:
        return next(k for k in self.keys() if k["id"] == key_id)


@contextmanager
def gateway(folder: Path, master_key: str | None = ADMIN_KEY) -> Iterator[Gateway]:
    """A gateway whose keys and request log live in ``folder`` (the same folder again = a restart).

    Each gateway gets its own upstreams and router: langchain-openai shares one HTTP client per
    base URL in a process, and a client belongs to the event loop of the server that first used it.
    """
    folder.mkdir(exist_ok=True)
    with FakeUpstream() as upstream, FakeUpstream() as broken:
        broken.fail(503)
        specs = [
            _spec("fake-chat", upstream.base_url, price=0.002),
            _spec("other-chat", upstream.base_url),
            _spec("broken", broken.base_url),
        ]
        registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate(
            {
                "policies": ["explicit", "modality", "context_window", "cost"],
                "default_model": "fake-chat",
                "health": {"failure_threshold": 1000},
                "fallbacks": {"by_model": {"broken": ["fake-chat"]}},
            }
        )
        router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, folder / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key=master_key,
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:
            yield Gateway(url, app)


@pytest.fixture(scope="module")
def gw(tmp_path_factory) -> Iterator[Gateway]:
    with gateway(tmp_path_factory.mktemp("gateway-keys")) as served:
        yield served


def _chat(client: openai.OpenAI, model: str = "fake-chat", text: str = "hello"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])


# ---- issuing keys and calling with them ----------------------------------------------------------
def test_admin_issues_keys_and_a_consumer_chats_with_one(gw):
    a = gw.create_key(name="team-a")
    b = gw.create_key(name="team-b", allowed_models=["other-chat"], rpm=100, tpm=10_000, budget_usd=1.5)
    assert a["secret"].startswith("my-") and len(a["secret"]) > 40 and a["prefix"] == a["secret"][:8]
    assert a["id"].startswith("key_") and a["id"] != b["id"]
    assert (b["allowed_models"], b["rpm"], b["tpm"], b["budget_usd"]) == (["other-chat"], 100, 10_000, 1.5)

    reply = _chat(gw.consumer(a["secret"]), text="hi from team a")
    assert reply.choices[0].message.content == "echo: hi from team a"
    streamed = gw.consumer(a["secret"]).chat.completions.create(model="fake-chat", messages=HI, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "echo: hello"

    listing = httpx.get(f"{gw.url}/api/keys", headers=ADMIN)
    assert listing.status_code == 200 and {a["id"], b["id"]} <= {k["id"] for k in listing.json()["data"]}
    listed_a = gw.key(a["id"])
    assert listed_a["requests_last_minute"] is None and listed_a["spent_usd"] > 0  # no rpm limit; paid model
    for secret in (a["secret"], b["secret"]):
        assert secret not in listing.text
    assert "sha256" not in listing.text and not any("secret" in k for k in listing.json()["data"])


def test_missing_wrong_and_revoked_keys_get_401(gw):
    missing = httpx.post(f"{gw.url}/v1/chat/completions", json={"model": "fake-chat", "messages": HI})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_api_key"
    assert "Authorization: Bearer <key>" in missing.json()["error"]["message"]
    assert missing.headers["www-authenticate"] == "Bearer"
    with pytest.raises(openai.AuthenticationError, match="unknown or has been revoked"):
        _chat(gw.consumer("my-not-a-real-key"))
    with pytest.raises(openai.AuthenticationError):
        gw.consumer("my-not-a-real-key").models.list()

    key = gw.create_key(name="short-lived")
    assert _chat(gw.consumer(key["secret"])).choices[0].message.content == "echo: hello"
    revoked = httpx.delete(f"{gw.url}/api/keys/{key['id']}", headers=ADMIN)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    with pytest.raises(openai.AuthenticationError) as refused:
        _chat(gw.consumer(key["secret"]))
    assert refused.value.body["code"] == "invalid_api_key" and key["secret"] not in refused.value.message
    again = httpx.delete(f"{gw.url}/api/keys/{key['id']}", headers=ADMIN)
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    unknown = httpx.delete(f"{gw.url}/api/keys/key_00000000", headers=ADMIN)
    assert unknown.status_code == 404 and "key_00000000" in unknown.json()["error"]["message"]


def test_the_master_key_calls_models_without_limits(gw):
    admin = gw.consumer(ADMIN_KEY)
    assert _chat(admin).choices[0].message.content == "echo: hello"
    assert "broken" in [m.id for m in admin.models.list()]


def test_admin_endpoints_refuse_consumer_keys(gw):
    key = gw.create_key(name="not-an-admin")
    consumer = {"Authorization": f"Bearer {key['secret']}"}
    for method, path in [("GET", "/api/keys"), ("POST", "/api/keys"), ("DELETE", f"/api/keys/{key['id']}")]:
        response = httpx.request(method, f"{gw.url}{path}", headers=consumer, json={"name": "x"})
        assert response.status_code == 401, path
        assert "Bearer <MODELYARD_MASTER_KEY>" in response.json()["error"]["message"]
    assert httpx.get(f"{gw.url}/api/models", headers=consumer).status_code == 401


def test_invalid_key_settings_get_422_naming_the_field(gw):
    cases = [
        ({"name": "x", "rpm": 0}, "rpm"),
        ({"name": "x", "tpm": -5}, "tpm"),
        ({"name": "x", "budget_usd": -1}, "budget_usd"),
        ({"name": "x", "allowed_models": ["auto"]}, "allowed_models"),
        ({"name": "x", "allowed_models": [" "]}, "allowed_models"),
        ({"name": ""}, "name"),
        ({"rpm": 5}, "name"),
        ({"name": "x", "rpm_limit": 5}, "rpm_limit"),
    ]
    for body, field in cases:
        response = httpx.post(f"{gw.url}/api/keys", headers=ADMIN, json=body)
        assert response.status_code == 422, body
        assert response.json()["error"]["param"] == field and field in response.json()["error"]["message"]


# ---- what a key may call ------------------------------------------------------------------------
def test_a_key_limited_to_some_models(gw):
    key = gw.create_key(name="other-only", allowed_models=["other-chat"])
    client = gw.consumer(key["secret"])
    with pytest.raises(openai.PermissionDeniedError) as denied:
        _chat(client, "fake-chat")
    assert denied.value.body["code"] == "model_not_allowed" and denied.value.body["param"] == "model"
    assert "may not use model 'fake-chat'" in denied.value.message and "other-chat" in denied.value.message
    with pytest.raises(openai.PermissionDeniedError):
        _chat(client, "no-such-model")  # 403 before 404: the key learns nothing about other models
    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="all-MiniLM-L6-v2", input="hi")

    routed = _chat(client, "auto")  # the router's default would be fake-chat; the key keeps it to other-chat
    assert routed.model_extra["modelyard_route"]["model"] == "other-chat"
    assert _chat(client, "other-chat").model == "other-chat"
    assert [m.id for m in client.models.list()] == ["auto", "other-chat"]

    unrestricted = gw.create_key(name="anything")
    assert _chat(gw.consumer(unrestricted["secret"]), "auto").model_extra["modelyard_route"]["model"] == "fake-chat"


def test_fallbacks_stay_within_the_keys_models(gw):
    only_broken = gw.create_key(name="broken-only", allowed_models=["broken"])
    with pytest.raises(openai.APIStatusError) as failed:
        _chat(gw.consumer(only_broken["secret"]), "broken")
    assert failed.value.status_code == 502
    # the configured fake-chat fallback is skipped: the key may not use it
    assert {a["model"] for a in failed.value.body["attempts"]} == {"broken"}
    anyone = gw.create_key(name="broken-and-fallback")
    rescued = _chat(gw.consumer(anyone["secret"]), "broken")  # without a list the configured fallback answers
    assert rescued.model_extra["modelyard_route"]["model"] == "fake-chat"


# ---- limits and budgets -------------------------------------------------------------------------
def test_requests_per_minute(gw):
    key = gw.create_key(name="rpm-2", rpm=2)
    client = gw.consumer(key["secret"])
    _chat(client)
    _chat(client)
    with pytest.raises(openai.RateLimitError) as limited:
        _chat(client)
    assert limited.value.body["code"] == "rate_limit_exceeded" and "2 requests per minute" in limited.value.message
    retry_after = int(limited.value.response.headers["retry-after"])
    assert 0 < retry_after <= 60 and f"retry in {retry_after} s" in limited.value.message
    assert gw.key(key["id"])["requests_last_minute"] == 2  # the refused request is not counted
    own = httpx.get(f"{gw.url}/api/usage", headers={"Authorization": f"Bearer {key['secret']}"}).json()["models"]
    assert sum(r["requests"] for r in own) == 3 and sum(r["errors"] for r in own) == 1  # the 429 is logged
    assert 'modelyard_errors_total{error_class="RateLimitExceeded"}' in httpx.get(f"{gw.url}/metrics").text
    other = gw.create_key(name="unaffected")
    assert _chat(gw.consumer(other["secret"])).choices  # limits are per key


def test_tokens_per_minute_are_charged_after_the_call(gw):
    key = gw.create_key(name="tpm-10", tpm=10)
    client = gw.consumer(key["secret"])
    reply = _chat(client, text="one two three four five six")  # admitted: nothing used yet
    used = reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert used > 10
    assert gw.key(key["id"])["tokens_last_minute"] == used
    with pytest.raises(openai.RateLimitError) as limited:
        _chat(client)
    assert "10 tokens per minute" in limited.value.message and f"used {used}" in limited.value.message
    assert 0 < int(limited.value.response.headers["retry-after"]) <= 60


def test_budget_refuses_with_402_once_spent(gw):
    key = gw.create_key(name="tiny-budget", budget_usd=0.00001)
    client = gw.consumer(key["secret"])
    _chat(client, text="a b c d e f g h")  # ~0.002 $/1k tokens × a dozen tokens crosses the budget
    spent = gw.key(key["id"])["spent_usd"]
    assert spent >= 0.00001
    with pytest.raises(openai.APIStatusError) as refused:
        _chat(client)
    assert refused.value.status_code == 402 and refused.value.body["code"] == "budget_exceeded"
    assert "$0.00001 budget" in refused.value.message and "has spent $" in refused.value.message
    with pytest.raises(openai.APIStatusError):  # free models too: the budget is spent
        _chat(client, "other-chat")


# ---- usage visibility ---------------------------------------------------------------------------
def test_each_key_sees_only_its_own_usage(gw):
    since = time.time() - 1
    a, b = gw.create_key(name="usage-a"), gw.create_key(name="usage-b")
    _chat(gw.consumer(a["secret"]))
    list(gw.consumer(a["secret"]).chat.completions.create(model="fake-chat", messages=HI, stream=True))
    _chat(gw.consumer(b["secret"]))
    _chat(gw.consumer(ADMIN_KEY))

    def usage(secret: str) -> dict:
        response = httpx.get(
            f"{gw.url}/api/usage", params={"since": since}, headers={"Authorization": f"Bearer {secret}"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    seen_by_a = usage(a["secret"])
    assert seen_by_a["key_id"] == a["id"] and {row["key_id"] for row in seen_by_a["models"]} == {a["id"]}
    assert sum(row["requests"] for row in seen_by_a["models"]) == 2  # the stream is attributed to a too
    assert {row["key_id"] for row in usage(b["secret"])["models"]} == {b["id"]}
    everyone = {row["key_id"] for row in usage(ADMIN_KEY)["models"]}
    assert {a["id"], b["id"], ""} <= everyone  # "" = the master key
    logged = gw.app.state.gateway.log.rows(since, time.time())
    assert {row["key_id"] for row in logged} >= {a["id"], b["id"]}
    assert httpx.get(f"{gw.url}/api/usage", headers={"Authorization": "Bearer my-forged"}).status_code == 401
    assert httpx.get(f"{gw.url}/api/usage").status_code == 401


# ---- secrets at rest, restarts, startup ----------------------------------------------------------
def test_secrets_are_never_stored(gw):
    key = gw.create_key(name="at-rest")
    _chat(gw.consumer(key["secret"]))
    gw.app.state.gateway.log.flush()
    files = [p for p in (gw.app.state.gateway.settings.keys_path.parent).iterdir() if p.is_file()]
    assert any(p.name.startswith("keys.sqlite") for p in files)
    stored = b"".join(p.read_bytes() for p in files)
    assert key["secret"].encode() not in stored and key["secret"][8:20].encode() not in stored
    assert key["prefix"].encode() in stored and key["id"].encode() in stored


def test_keys_and_spend_survive_a_restart(tmp_path):
    with gateway(tmp_path) as first:
        kept = first.create_key(name="kept", budget_usd=10.0, allowed_models=["fake-chat"], rpm=50)
        dropped = first.create_key(name="dropped")
        _chat(first.consumer(kept["secret"]))
        httpx.delete(f"{first.url}/api/keys/{dropped['id']}", headers=ADMIN)
        spent = first.key(kept["id"])["spent_usd"]
    assert spent > 0
    with gateway(tmp_path) as second:  # same files, new app and key ring
        again = second.key(kept["id"])
        assert again["spent_usd"] == pytest.approx(spent) and again["allowed_models"] == ["fake-chat"]
        assert again["rpm"] == 50 and again["budget_usd"] == 10.0
        assert _chat(second.consumer(kept["secret"])).choices[0].message.content == "echo: hello"
        with pytest.raises(openai.AuthenticationError):
            _chat(second.consumer(dropped["secret"]))
        assert second.key(dropped["id"])["revoked_at"] is not None


def test_open_until_the_first_key_without_a_master_key(tmp_path):
    with gateway(tmp_path, master_key=None) as open_gw:
        anonymous = openai.OpenAI(base_url=f"{open_gw.url}/v1", api_key="anything", max_retries=0)
        assert _chat(anonymous).choices  # no master key, no keys: local development mode
        created = httpx.post(f"{open_gw.url}/api/keys", json={"name": "first"})  # admin from this machine
        assert created.status_code == 201
        with pytest.raises(openai.AuthenticationError):
            _chat(anonymous)
        assert _chat(open_gw.consumer(created.json()["secret"])).choices
        with_key = {"Authorization": f"Bearer {created.json()['secret']}"}
        assert httpx.get(f"{open_gw.url}/api/keys", headers=with_key).status_code == 403
        httpx.delete(f"{open_gw.url}/api/keys/{created.json()['id']}")
        with pytest.raises(openai.AuthenticationError):  # revoking every key does not reopen the server
            _chat(anonymous)


def test_refuses_a_public_address_with_no_keys(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MODELYARD_MASTER_KEY"}
    env["MODELYARD_DATA_DIR"] = str(tmp_path)
    started = subprocess.run(
        [sys.executable, "-m", "app.server", "--host", "0.0.0.0", "--no-knowledge"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2
    assert "without MODELYARD_MASTER_KEY and with no active API key" in started.stderr
    assert "POST /api/keys" in started.stderr and "Uvicorn running" not in started.stderr
    assert not (tmp_path / "keys.sqlite").exists()  # checking does not create the store
