"""The gateway on a real loopback port, driven by real clients: ``openai``, ``ChatOpenAI``,
``langserve.RemoteRunnable`` and plain ``httpx``. Models are served by the fake upstream."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from langserve import RemoteRunnable

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from store.request_log import CallRecord, RequestLog
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

ADMIN_KEY = "admin-secret"
BODY_LIMIT = 64_000


@dataclass
class Server:
    url: str
    upstream: FakeUpstream
    app: object

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_KEY}"}

    def openai(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=ADMIN_KEY, max_retries=0)


def _spec(name: str, url: str, price: float = 0.0) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        cost={"input_per_1k": price, "output_per_1k": price},
        params={"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 500}},
        # no tool calls: /support answers from the knowledge base here (its tool loop: test_support_tools.py)
        capabilities={"tools": False},
        deployments=[{"name": "d0", "base_url": url, "timeout": 5}],
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("gateway")
    with FakeUpstream() as upstream, FakeUpstream() as broken:
        broken.fail(503)
        specs = [_spec("fake-chat", upstream.base_url, price=0.002), _spec("broken", broken.base_url)]
        registry = Registry(db_path=tmp / "registry.sqlite", catalog_specs=specs)
        config = RoutingConfig.model_validate(
            {
                "policies": ["explicit", "modality", "context_window", "ab", "cost"],
                "default_model": "fake-chat",
                "health": {"failure_threshold": 50},
            }
        )
        router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, tmp / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=True,
            master_key=ADMIN_KEY,
            max_body_bytes=BODY_LIMIT,
            request_log_path=tmp / "requests.sqlite",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:  # startup ingests the sample knowledge base
            yield Server(url, upstream, app)


# ---- the official openai client ---------------------------------------------------------------
def test_chat_completion_with_route_header_and_field(server):
    raw = server.openai().chat.completions.with_raw_response.create(
        model="fake-chat",
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello gateway"}],
        temperature=0.2,
        max_tokens=50,
        user="user-1",
    )
    reply = raw.parse()
    route = reply.model_extra["modelyard_route"]
    assert reply.choices[0].message.content == "echo: hello gateway"
    assert reply.model == "fake-chat" and route["model"] == "fake-chat" and route["deployment"] == "d0"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens == 3
    assert unquote(raw.headers["x-modelyard-route"]) == route["reason"] and "fake-chat" in route["reason"]
    sent = server.upstream.requests[-1].body
    assert sent["temperature"] == 0.2 and sent.get("max_tokens", sent.get("max_completion_tokens")) == 50
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


def test_auto_routes_to_a_catalog_model(server):
    reply = server.openai().chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
    assert reply.model_extra["modelyard_route"]["model"] == "fake-chat"


def test_stream_with_include_usage(server):
    stream = server.openai().chat.completions.create(
        model="fake-chat",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream me please"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-2].choices[0].finish_reason == "stop"
    last = chunks[-1]
    assert last.choices == [] and last.usage.completion_tokens == 4 and last.usage.prompt_tokens > 0
    assert last.model_extra["modelyard_route"]["model"] == "fake-chat"


def test_stream_without_usage_puts_the_route_on_the_finish_chunk(server):
    with httpx.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        headers=server.admin,
        timeout=10,
        json={"model": "auto", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as r:
        lines = [line for line in r.iter_lines() if line.startswith("data: ")]
    assert r.headers["content-type"].startswith("text/event-stream") and lines[-1] == "data: [DONE]"
    final = json.loads(lines[-2][6:])
    assert final["choices"][0]["finish_reason"] == "stop" and final["modelyard_route"]["model"] == "fake-chat"


def test_models_list_and_local_embeddings(server):
    client = server.openai()
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "auto" and {"fake-chat", "broken", "all-MiniLM-L6-v2"} <= set(ids)
    result = client.embeddings.create(
        model="all-MiniLM-L6-v2",  # the client asks for base64
        input=["How do I return an item?", "Can I send a product back?", "The weather is sunny today"],
    )
    vectors = [d.embedding for d in result.data]
    assert [len(v) for v in vectors] == [384] * 3 and result.usage.prompt_tokens > 0

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2]) + 0.2
    floats = httpx.post(
        f"{server.url}/v1/embeddings",
        headers=server.admin,
        json={"model": "all-minilm-l6-v2", "input": "hello", "encoding_format": "float"},
    ).json()
    assert len(floats["data"][0]["embedding"]) == 384


def test_openai_client_sees_openai_shaped_errors(server):
    client = server.openai()
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert "available: auto, fake-chat, broken" in missing.value.message
    assert missing.value.body["param"] == "model" and missing.value.body["code"] == "model_not_found"

    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="broken", messages=[{"role": "user", "content": "hi"}])
    assert failed.value.status_code == 502
    assert failed.value.body["attempts"][0]["model"] == "broken"
    assert "ProviderServerError" in failed.value.body["attempts"][0]["error"]

    with pytest.raises(openai.BadRequestError) as unknown_param:
        client.chat.completions.create(model="fake-chat", messages=[{"role": "user", "content": "hi"}], top_p=0.5)
    assert unknown_param.value.body["param"] == "top_p" and "does not accept top_p" in unknown_param.value.message

    with pytest.raises(openai.BadRequestError) as out_of_range:
        client.chat.completions.create(model="fake-chat", messages=[{"role": "user", "content": "hi"}], temperature=5)
    assert (
        out_of_range.value.body["param"] == "temperature" and "outside the allowed range" in out_of_range.value.message
    )


# ---- LangChain clients ------------------------------------------------------------------------
def test_chat_openai_invoke_and_stream(server):
    chat = ChatOpenAI(base_url=f"{server.url}/v1", api_key=ADMIN_KEY, model="fake-chat", max_retries=0)
    reply = chat.invoke("hello from langchain")
    assert reply.content == "echo: hello from langchain" and reply.usage_metadata["output_tokens"] == 4
    pieces = [chunk.content for chunk in chat.stream("streaming from langchain")]
    assert "".join(pieces) == "echo: streaming from langchain" and len([p for p in pieces if p]) >= 3


def test_remote_runnable_support_bot_invoke_and_stream(server):
    bot = RemoteRunnable(f"{server.url}/support", headers=server.admin)
    answer = bot.invoke({"question": "How long do I have to return an item?"})
    assert answer["answer"] == "echo: How long do I have to return an item?"
    assert answer["sources"] and any("returns" in s["source"] for s in answer["sources"])
    chunks = list(bot.stream({"question": "Which items cannot be returned?"}))
    assert (
        chunks[0]["sources"] and "".join(c.get("answer", "") for c in chunks) == "echo: Which items cannot be returned?"
    )
    plain = RemoteRunnable(f"{server.url}/rag", headers=server.admin).invoke(
        {"question": "How long do I have to return an item?"}
    )
    assert plain["sources"] and plain["answer"].startswith("echo:")


def test_chain_calls_are_charged_to_the_key_and_logged(server):
    created = httpx.post(f"{server.url}/api/keys", headers=server.admin, json={"name": "chains"}).json()
    consumer = {"Authorization": f"Bearer {created['secret']}"}
    bot = RemoteRunnable(f"{server.url}/support", headers=consumer)
    bot.invoke({"question": "How long do I have to return an item? (charged)"})
    list(RemoteRunnable(f"{server.url}/rag", headers=consumer).stream({"question": "Which items can I return?"}))
    gw = server.app.state.gateway
    deadline = time.monotonic() + 5
    while True:
        gw.log.flush()
        rows = [r for r in gw.log.rows(0, time.time() + 5) if r["key_id"] == created["id"]]
        if len(rows) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sorted(r["endpoint"] for r in rows) == ["rag_stream", "support_invoke"]
    for row in rows:
        assert row["status"] == 200 and row["model"] == "fake-chat" and row["output_tokens"] > 0
        assert row["cost_usd"] > 0
    listed = next(
        k for k in httpx.get(f"{server.url}/api/keys", headers=server.admin).json()["data"] if k["id"] == created["id"]
    )
    assert listed["spent_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows))


def test_chain_endpoints_that_bypass_review_or_limits_are_off(server):
    body = {"input": {"question": "hi"}}
    for path in ("/support/stream_log", "/support/stream_events", "/support/batch", "/rag/stream_events"):
        answer = httpx.post(f"{server.url}{path}", json=body, headers=server.admin)
        assert answer.status_code == 404, (path, answer.status_code)


# ---- plain HTTP: malformed input, limits, admin endpoints, metrics, usage ------------------------
def test_malformed_requests_get_actionable_4xx(server):
    url = f"{server.url}/v1/chat/completions"
    http = httpx.Client(headers=server.admin)  # the admin key passes the /v1 key check
    bad_json = http.post(
        url, content=b'{"model": "fake-chat", "messages": [', headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]["message"]
    missing = http.post(url, json={"model": "fake-chat"})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "messages"
    assert missing.json()["error"]["message"] == "messages: field required"
    wrong_type = http.post(
        url, json={"model": "fake-chat", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}
    )
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["param"] == "temperature"
    assert "'hot'" in wrong_type.json()["error"]["message"]
    bad_role = http.post(url, json={"model": "fake-chat", "messages": [{"role": "wizard", "content": "x"}]})
    assert bad_role.status_code == 422 and bad_role.json()["error"]["param"] == "messages.0.role"
    huge = http.post(url, json={"model": "fake-chat", "messages": [{"role": "user", "content": "x" * BODY_LIMIT}]})
    assert huge.status_code == 413 and f"larger than {BODY_LIMIT} bytes" in huge.json()["error"]["message"]

    def chunked():
        yield b'{"model": "fake-chat", "messages": [{"role": "user", "content": "'
        for _ in range(10):
            yield b"y" * (BODY_LIMIT // 8)
        yield b'"}]}'

    assert http.post(url, content=chunked(), headers={"content-type": "application/json"}).status_code == 413


def test_admin_endpoints_need_the_master_key(server):
    for method, path in [
        ("GET", "/api/server/workers"),
        ("GET", "/api/models"),
        ("GET", "/api/usage"),
        ("POST", "/api/server/offline"),
    ]:
        response = httpx.request(method, f"{server.url}{path}", json={})
        assert response.status_code == 401, path
        assert "Bearer <MODELYARD_MASTER_KEY>" in response.json()["error"]["message"]
    wrong = httpx.get(f"{server.url}/api/models", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_register_workers_chat_offline(server):
    api, auth = server.url, server.admin
    registered = httpx.post(
        f"{api}/api/server/register",
        headers=auth,
        json={
            "model_name": "acme-bot",
            "req_url_template": f"{server.upstream.root_url}/template/acme",
            "body": {"question": "{USER_PROMPT}"},
            "response_extract": "data.items[].attributes.answer",
            "owner": "acme-team",
        },
    )
    assert registered.status_code == 200 and registered.json()["success"] is True
    workers = httpx.post(f"{api}/api/server/workers", headers=auth).json()["data"]  # OperateGPT uses POST
    acme = [w for w in workers if w["model_name"] == "acme-bot"]
    assert acme == [
        {
            "model_name": "acme-bot",
            "deployment": "default",
            "provider": "http_template",
            "req_url_template": f"{server.upstream.root_url}/template/acme",
            "owner": "acme-team",
            "available": True,
            "reason": "",
        }
    ]
    reply = server.openai().chat.completions.create(model="acme-bot", messages=[{"role": "user", "content": "ping"}])
    assert reply.choices[0].message.content == 'template acme: {"question": "ping"}'

    offline = httpx.post(f"{api}/api/server/offline", headers=auth, json={"model_name": "acme-bot"})
    assert offline.json() == {"success": True, "msg": "remove llm worker(acme-bot) succeed!"}
    assert "acme-bot" not in [
        w["model_name"] for w in httpx.get(f"{api}/api/server/workers", headers=auth).json()["data"]
    ]
    with pytest.raises(openai.NotFoundError, match="taken offline"):
        server.openai().chat.completions.create(model="acme-bot", messages=[{"role": "user", "content": "ping"}])
    unknown = httpx.post(f"{api}/api/server/offline", headers=auth, json={"model_name": "ghost"})
    assert unknown.status_code == 404 and "unknown model 'ghost'" in unknown.json()["error"]["message"]


def test_models_crud_with_validation_errors(server):
    api, auth = f"{server.url}/api/models", server.admin
    invalid = httpx.post(
        api,
        headers=auth,
        json={"name": "bad", "provider": "carrier-pigeon", "deployments": [{"base_url": "http://x"}]},
    )
    assert invalid.status_code == 422 and invalid.json()["error"]["param"] == "provider"
    bad_nested = httpx.post(
        api,
        headers=auth,
        json={"name": "bad", "provider": "openai", "deployments": [{"base_url": "http://x", "weight": -1}]},
    )
    assert bad_nested.status_code == 422 and bad_nested.json()["error"]["param"] == "deployments.0.weight"
    spec = {
        "name": "team/vllm",
        "provider": "openai",
        "quality": 7,
        "deployments": [{"name": "gpu0", "base_url": server.upstream.base_url}],
    }
    created = httpx.post(api, headers=auth, json=spec)
    assert created.status_code == 201 and created.json()["previous_fingerprint"] is None
    fetched = httpx.get(f"{api}/team/vllm", headers=auth).json()
    assert fetched["spec"]["quality"] == 7 and fetched["origin"] == "registry" and fetched["available"]
    assert "team/vllm" in [e["spec"]["name"] for e in httpx.get(api, headers=auth).json()]
    assert httpx.delete(f"{api}/team/vllm", headers=auth).json() == {"name": "team/vllm", "offline": True}
    assert httpx.get(f"{api}/team/vllm", headers=auth).json()["reason"] == "taken offline"
    assert httpx.get(f"{api}/nope", headers=auth).status_code == 404


def test_metrics_and_usage_account_every_chat_call(server):
    client = server.openai()
    started = time.time() - 1
    for i in range(3):
        client.chat.completions.create(model="fake-chat", messages=[{"role": "user", "content": f"count {i}"}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing-model", messages=[{"role": "user", "content": "x"}])
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'modelyard_requests_total{deployment="d0",endpoint="chat",model="fake-chat",status="200"}' in metrics
    assert 'modelyard_tokens_total{deployment="d0",direction="output",model="fake-chat"}' in metrics
    assert 'modelyard_cost_usd_total{deployment="d0",model="fake-chat"}' in metrics
    assert 'modelyard_errors_total{error_class="ModelNotFound"}' in metrics
    assert "missing-model" not in metrics  # caller-typed names do not become label values
    assert "modelyard_ttft_seconds_bucket" in metrics and "modelyard_request_latency_seconds_bucket" in metrics

    usage = httpx.get(f"{server.url}/api/usage", params={"since": started}, headers=server.admin).json()
    rows = {row["model"]: row for row in usage["models"] if row["key_id"] == ""}  # other tests used keys
    assert rows["fake-chat"]["requests"] >= 3 and rows["fake-chat"]["errors"] == 0
    assert rows["fake-chat"]["output_tokens"] >= 9 and rows["fake-chat"]["cost_usd"] > 0
    assert rows["missing-model"]["errors"] == 1
    logged = server.app.state.gateway.log.rows(started, time.time())
    assert all("count" not in json.dumps(row) for row in logged)  # no prompt bodies in the log
    assert {row["route_reason"] for row in logged if row["model"] == "fake-chat"} != {""}
    assert (
        httpx.get(f"{server.url}/api/usage", params={"since": 10, "until": 5}, headers=server.admin).status_code == 400
    )


def test_client_disconnect_mid_stream_closes_the_upstream_stream(server):
    upstream = server.upstream
    upstream.reply = " ".join(f"w{i}" for i in range(200))
    upstream.set_latency(0, chunk_delay=0.05)  # a 10-second answer
    try:
        with httpx.stream(
            "POST",
            f"{server.url}/v1/chat/completions",
            headers=server.admin,
            timeout=10,
            json={"model": "fake-chat", "stream": True, "messages": [{"role": "user", "content": "long"}]},
        ) as response:
            lines = response.iter_lines()
            assert any("w1" in line for line in lines)
            assert upstream.open_streams == 1
        deadline = time.monotonic() + 8  # well before the answer would have finished
        while upstream.open_streams and time.monotonic() < deadline:
            time.sleep(0.05)
        assert upstream.open_streams == 0
    finally:
        upstream.reply = None
        upstream.heal()


def test_request_log_writes_in_batches_and_never_raises(tmp_path):
    request_log = RequestLog(tmp_path / "requests.sqlite", batch_size=2, flush_seconds=0.01)
    for tokens in (3, 4, 5):
        request_log.write(CallRecord(endpoint="chat", model="m", input_tokens=tokens, cost_usd=0.5))
    assert request_log.flush()
    assert request_log.usage(0, time.time() + 1) == [
        {
            "key_id": "",
            "model": "m",
            "requests": 3,
            "errors": 0,
            "input_tokens": 12,
            "output_tokens": 0,
            "cost_usd": 1.5,
            "avg_latency_ms": 0.0,
            "avg_ttft_ms": None,
        }
    ]
    with request_log.db.engine.begin() as conn:  # the table is gone: writes fail in the thread, not the caller
        conn.exec_driver_sql("DROP TABLE requests")
    request_log.write(CallRecord(endpoint="chat", model="m"))
    assert request_log.flush() and request_log.dropped == 1
    request_log.close()


def test_openapi_schema_and_playground(server):
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    assert {
        "/v1/chat/completions",
        "/v1/models",
        "/api/server/register",
        "/support/invoke",
        "/rag/stream",
    } <= set(paths)
    playground = httpx.get(f"{server.url}/support/playground/index.html", headers=server.admin)
    assert playground.status_code == 200 and "<html" in playground.text.lower()


def test_refuses_a_public_address_without_the_master_key(monkeypatch, capsys, tmp_path):
    from app.server.__main__ import is_loopback, main

    monkeypatch.delenv("MODELYARD_MASTER_KEY", raising=False)
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(tmp_path))  # no key store: other tests' keys do not count
    with pytest.raises(SystemExit) as exited:
        main(["--host", "0.0.0.0", "--no-knowledge"])
    assert exited.value.code == 2 and "without MODELYARD_MASTER_KEY" in capsys.readouterr().err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.com")
