"""OperateGPT's inference call end to end: workers registered with the documented register body,
then ``POST /api/v1/chat/completions`` sent with exactly the documented curl bodies over ``httpx``,
against the gateway on a loopback port and the fake upstream's non-OpenAI ``/template/{name}`` route."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from app.server.gateway.cache import CacheSettings
from models.spec import ModelSpec
from tests.support.gateways import gateway_app
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "operategpt-admin-secret"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
WHO = {"input": "who are you?", "model_name": "proxyllm"}  # OperateGPT's documented request body
ASKED = json.dumps({"input": "who are you?", "model_name": "proxyllm"})  # what each worker receives


@dataclass
class Gateway:
    url: str
    upstream: FakeUpstream
    app: object

    def infer(self, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(
            f"{self.url}/api/v1/chat/completions", json=body, headers=ADMIN if headers is None else headers
        )

    def register(self, worker: str) -> httpx.Response:
        """OperateGPT's documented register body, with the URL of one fake worker."""
        body = {
            "model_name": "proxyllm",
            "body": {"input": "{USER_PROMPT}", "model_name": "{MODEL_NAME}"},
            "req_url_template": f"{self.upstream.root_url}/template/{worker}",
            "owner": "operategpt",
            "response_extract": "data.items[].attributes.answer",
        }
        return httpx.post(f"{self.url}/api/server/register", json=body, headers=ADMIN)


@pytest.fixture(scope="module")
def gw(tmp_path_factory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("operategpt")
    with FakeUpstream() as upstream:
        chat = ModelSpec(
            name="fake-chat", provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}]
        )
        app = gateway_app(
            tmp,
            [chat],
            routing={"policies": ["explicit", "cost"], "health": {"failure_threshold": 1000}},
            master_key=ADMIN_KEY,
            log_flush_seconds=0.05,
            cache=CacheSettings(enabled=False),  # the documented body is sent again and again: every one is routed
        )
        with serving(app) as url:
            served = Gateway(url, upstream, app)
            for worker in ("a", "b"):
                registered = served.register(worker)
                assert registered.status_code == 200, registered.text
                assert registered.json()["success"] is True
            yield served


def test_each_registered_url_is_one_worker_of_the_name(gw):
    again = gw.register("a")  # the same URL again updates its worker
    assert again.json()["success"] is True and "(updated)" in again.json()["msg"]
    workers = httpx.get(f"{gw.url}/api/server/workers", headers=ADMIN).json()["data"]
    proxyllm = sorted((w["deployment"], w["req_url_template"]) for w in workers if w["model_name"] == "proxyllm")
    root = gw.upstream.root_url
    assert proxyllm == [("default", f"{root}/template/a"), ("worker-2", f"{root}/template/b")]


def test_the_documented_request_is_balanced_across_the_workers(gw):
    before = len(gw.upstream.requests)
    answers = [gw.infer(WHO) for _ in range(4)]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert set(answer.json()) == {"success", "msg", "result"}
        assert answer.json()["success"] is True and answer.json()["msg"] == "execute succeed"
    results = [answer.json()["result"] for answer in answers]
    assert sorted(results) == sorted([f"template a: {ASKED}", f"template b: {ASKED}"] * 2)
    assert results[0] != results[1]  # round robin: one call each, in turn
    served = gw.upstream.requests[before:]
    assert sorted(r.path for r in served) == ["/template/a", "/template/a", "/template/b", "/template/b"]
    assert all(r.body == {"input": "who are you?", "model_name": "proxyllm"} for r in served)


def test_model_name_defaults_to_proxyllm_as_in_operategpt(gw):
    answer = gw.infer({"input": "who are you?"})
    assert answer.status_code == 200 and answer.json()["result"].endswith(ASKED)


def test_calls_are_in_the_request_log_under_the_key(gw):
    created = httpx.post(f"{gw.url}/api/keys", headers=ADMIN, json={"name": "ops-team", "rpm": 2})
    key = {"Authorization": f"Bearer {created.json()['secret']}"}
    assert gw.infer(WHO, key).status_code == 200
    assert gw.infer(WHO, key).status_code == 200
    limited = gw.infer(WHO, key)  # over the key's limit, answered in OperateGPT's shape
    assert limited.status_code == 429 and limited.headers["retry-after"]
    assert limited.json()["success"] is False and "2 requests per minute" in limited.json()["msg"]
    assert limited.json()["result"] is None

    usage = httpx.get(f"{gw.url}/api/usage", headers=key).json()
    mine = [row for row in usage["models"] if row["model"] == "proxyllm"]
    assert [(row["requests"], row["errors"]) for row in mine] == [(3, 1)]  # the 429 named the model too
    rows = gw.app.state.gateway.log.rows(time.time() - 600, time.time())
    ours = [row for row in rows if row["key_id"] == created.json()["id"] and row["status"] == 200]
    assert [(row["endpoint"], row["model"]) for row in ours] == [("operategpt", "proxyllm")] * 2
    assert {row["deployment"] for row in ours} == {"default", "worker-2"}


def test_a_key_limited_to_other_models_is_refused(gw):
    created = httpx.post(
        f"{gw.url}/api/keys", headers=ADMIN, json={"name": "chat-only", "allowed_models": ["fake-chat"]}
    )
    refused = gw.infer(WHO, {"Authorization": f"Bearer {created.json()['secret']}"})
    assert refused.status_code == 403
    assert refused.json() == {
        "success": False,
        "msg": f"key {created.json()['id']} may not use model 'proxyllm'; allowed: auto (routes among these), "
        "fake-chat",
        "result": None,
    }


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"input": "who are you?", "model_name": "chatglm2-6b"}, 404, "model 'chatglm2-6b' does not exist; available:"),
        ({"model_name": "proxyllm"}, 422, "input: field required"),
        ({"input": "", "model_name": "proxyllm"}, 422, "input: String should have at least 1 character"),
        ({"input": "hi", "model_name": "proxyllm", "temperature": 0.2}, 422, "temperature: Extra inputs"),
    ],
)
def test_bad_requests_get_a_clear_message_in_operategpt_shape(gw, body, status, says):
    answer = gw.infer(body)
    assert answer.status_code == status, answer.text
    assert answer.json()["success"] is False and answer.json()["result"] is None
    assert answer.json()["msg"].startswith(says), answer.json()["msg"]


def test_no_key_malformed_json_and_a_failing_worker(gw):
    no_key = gw.infer(WHO, headers={})
    assert no_key.status_code == 401 and no_key.json()["success"] is False
    assert "Authorization: Bearer" in no_key.json()["msg"]

    malformed = httpx.post(
        f"{gw.url}/api/v1/chat/completions",
        content=b'{"input": ',
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["msg"]

    issued = httpx.post(f"{gw.url}/api/keys", headers=ADMIN, json={"name": "consumer"}).json()
    consumer = {"Authorization": f"Bearer {issued['secret']}"}
    for caller in (ADMIN, consumer):
        gw.upstream.fail(503, times=2, message="worker pool db-7 is down")  # both workers fail: every attempt failed
        try:
            failed = gw.infer(WHO, caller)
        finally:
            gw.upstream.heal()
        assert failed.status_code == 502 and failed.json()["success"] is False
        assert "proxyllm" in failed.json()["msg"] and failed.json()["result"] is None
        # the upstream's own text is shown to the admin only, as on every route
        assert ("worker pool db-7 is down" in failed.json()["msg"]) is (caller is ADMIN), failed.json()["msg"]
