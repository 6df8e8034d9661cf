"""Edges of ``/v1/messages`` and ``/v1/responses`` (issue 13), with the official ``anthropic`` and
``openai`` clients and httpx against the gateway on a loopback port:

* a body over the size limit is refused with 413 in the shape of the API the path speaks;
* a refusal raised while translating the dialect's request is one settled call in the request log
  and the metrics, with its error class and the dialect's endpoint label;
* a model's tool call whose arguments are not JSON: ``/v1/messages`` answers 502 and the call is
  logged 502 (not 200), and the broken answer is not cached.

The broken tool call comes from a small upstream of its own (an OpenAI-compatible endpoint that
answers a tool call cut off mid-arguments, as a model stopped by its token limit does); everything
else is the honest fake upstream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest
from fastapi import FastAPI, Request

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream

MASTER = "mk-dialect-edges"
LIMIT = 20_000
ORDER_TOOL = {
    "name": "order_status",
    "description": "Where an order is",
    "input_schema": {"type": "object", "properties": {"order_id": {"type": "integer"}}, "required": ["order_id"]},
}


@dataclass
class CutToolCalls:
    """An OpenAI-compatible upstream whose every answer is a tool call with truncated JSON arguments."""

    bodies: list[dict[str, Any]] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> dict[str, Any]:
            body = await request.json()
            self.bodies.append(body)
            name = body["tools"][0]["function"]["name"]
            call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": '{"order_id": 10'}}
            return {
                "id": "chatcmpl-cut",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}}],
                "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            }

        return app


@dataclass
class Served:
    url: str
    app: Any
    cut: CutToolCalls

    def key(self) -> tuple[str, str]:
        """A fresh consumer key: ``(secret, id)``."""
        created = httpx.post(
            f"{self.url}/api/keys", headers={"Authorization": f"Bearer {MASTER}"}, json={"name": uuid.uuid4().hex[:8]}
        )
        assert created.status_code == 201, created.text
        return created.json()["secret"], created.json()["id"]

    def rows(self, key_id: str) -> list[dict[str, Any]]:
        log = self.app.state.gateway.log
        assert log.flush()
        return [row for row in log.rows(0, time.time() + 60) if row["key_id"] == key_id]

    def requests_counted(self, endpoint: str, status: int) -> float:
        metrics = httpx.get(f"{self.url}/metrics").text
        rows = [line for line in metrics.splitlines() if line.startswith("modelyard_requests_total{")]
        wanted = [line for line in rows if f'endpoint="{endpoint}"' in line and f'status="{status}"' in line]
        return sum(float(line.split()[-1]) for line in wanted)


def _spec(name: str, url: str) -> ModelSpec:
    return ModelSpec(
        name=name,
        provider="openai",
        tasks=["chit_chat"],
        params={"max_tokens": {"type": "int", "min": 1, "max": 4096}},
        deployments=[{"name": "d0", "base_url": url, "model_id": f"upstream-{name}"}],
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder: Path = tmp_path_factory.mktemp("dialect-edges")
    cut = CutToolCalls()
    with FakeUpstream() as upstream, serving(cut.app()) as cut_url:
        registry = Registry(
            db_path=folder / "registry.sqlite",
            catalog_specs=[_spec("hosted", upstream.base_url), _spec("cut-off", f"{cut_url}/v1")],
        )
        config = RoutingConfig.model_validate(
            {"policies": ["explicit", "cost"], "default_model": "hosted", "health": {"failure_threshold": 1000}}
        )
        router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key=MASTER,
            max_body_bytes=LIMIT,
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
            responses_path=folder / "responses.sqlite",
            log_flush_seconds=0.05,
        )
        with serving(app) as url:
            yield Served(url, app, cut)


# ---- 413 in the path's shape ----------------------------------------------------------------------
def test_an_oversize_body_on_messages_is_refused_in_anthropics_shape(served):
    secret, _ = served.key()
    client = anthropic.Anthropic(base_url=served.url, api_key=secret, max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as refused:
        client.messages.create(model="hosted", max_tokens=10, messages=[{"role": "user", "content": "x" * LIMIT}])
    assert refused.value.status_code == 413
    body = refused.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"]["type"] == "request_too_large" and f"larger than {LIMIT} bytes" in body["error"]["message"]


def test_an_oversize_chunked_body_on_messages_is_refused_in_anthropics_shape(served):
    secret, _ = served.key()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the middleware reads up to the limit
        yield b'{"model": "hosted", "max_tokens": 10, "messages": [{"role": "user", "content": "'
        yield b"x" * LIMIT
        yield b'"}]}'

    answer = httpx.post(
        f"{served.url}/v1/messages", content=chunks(), headers={"x-api-key": secret, "content-type": "application/json"}
    )
    assert answer.status_code == 413 and answer.json()["error"]["type"] == "request_too_large"


def test_an_oversize_body_elsewhere_keeps_openais_shape(served):
    secret, _ = served.key()
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=secret, max_retries=0)
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(model="hosted", messages=[{"role": "user", "content": "x" * LIMIT}])
    assert refused.value.status_code == 413
    assert refused.value.body["code"] == "body_too_large"  # type: ignore[index]


# ---- refusals while translating are accounted -----------------------------------------------------
def test_a_messages_field_refused_in_translation_is_logged_and_counted(served):
    secret, key_id = served.key()
    before = served.requests_counted("messages", 400)
    client = anthropic.Anthropic(base_url=served.url, api_key=secret, max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(
            model="hosted",
            max_tokens=2000,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[{"role": "user", "content": "think first"}],
        )
    assert "thinking" in refused.value.message
    (row,) = served.rows(key_id)
    assert (row["endpoint"], row["status"], row["error_class"], row["model"]) == (
        "messages",
        400,
        "InvalidParameter",
        "hosted",
    )
    assert served.requests_counted("messages", 400) == before + 1


def test_responses_refusals_in_translation_are_logged_and_counted(served):
    secret, key_id = served.key()
    before = served.requests_counted("responses", 404)
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key=secret, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="hosted", input="go on", previous_response_id="resp_never_stored")
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="hosted", input="hi", truncation="auto", stream=True)
    assert "truncation" in refused.value.message
    rows = sorted(served.rows(key_id), key=lambda row: row["ts"])
    assert [(r["endpoint"], r["status"], r["error_class"]) for r in rows] == [
        ("responses", 404, "ResponseNotFound"),
        ("responses_stream", 400, "InvalidParameter"),
    ]
    assert served.requests_counted("responses", 404) == before + 1


# ---- a broken tool call is logged as what the client got -------------------------------------------
def test_broken_tool_arguments_are_a_502_in_the_log_too_and_not_cached(served):
    secret, key_id = served.key()
    client = anthropic.Anthropic(base_url=served.url, api_key=secret, max_retries=0)
    ask = {"model": "cut-off", "max_tokens": 50, "tools": [ORDER_TOOL]}
    for _ in range(2):  # the retry reaches the model again: the broken answer was not cached
        with pytest.raises(anthropic.APIStatusError) as failed:
            client.messages.create(**ask, messages=[{"role": "user", "content": "where is order 10?"}])
        assert failed.value.status_code == 502
        assert "not a JSON object" in failed.value.body["error"]["message"]  # type: ignore[index]
    assert len(served.cut.bodies) == 2
    rows = served.rows(key_id)
    assert [(r["endpoint"], r["status"], r["error_class"]) for r in rows] == [
        ("messages", 502, "InvalidToolArguments")
    ] * 2
    assert all(r["model"] == "cut-off" and r["input_tokens"] == 12 for r in rows)  # the tokens were spent
