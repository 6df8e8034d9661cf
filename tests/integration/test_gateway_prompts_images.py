"""Prompt APIs and image generation end to end: the gateway on a loopback port, the shipped
``config/prompts`` files (copied next to a broken one), the fake upstream as the text and the
image provider, the official ``openai`` client and plain ``httpx``."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage
from PIL import Image

from app.server import create_app
from app.server.http.errors import ApiError
from app.server.routes.images import _image
from core.settings import config_dir
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream, free_port

BROKEN = """\
description: a prompt with a typo in a role
params: {temperature: 0.2}
messages:
  - role: system
    content: You are terse.
  - role: wizard
    content: "{text}"
"""
GHOST = """\
model: ghost-model
messages:
  - {role: user, content: "Say {word}"}
"""


def _chat_spec(url: str) -> ModelSpec:
    return ModelSpec(
        name="fake-chat",
        provider="openai",
        tasks=["chit_chat", "summarization", "translation"],
        params={"temperature": {"min": 0, "max": 2}, "max_tokens": {"type": "int", "min": 1, "max": 4096}},
        deployments=[{"name": "d0", "base_url": url, "timeout": 5}],
    )


def _painter_spec(url: str) -> ModelSpec:
    return ModelSpec(
        name="painter",
        provider="openai",
        tasks=["image_generation"],
        modalities={"input": ["text"], "output": ["image"]},
        params={"size": {"type": "str", "default": "1024x1024"}},
        resources={"usd_per_image": 0.04},
        deployments=[{"name": "d0", "base_url": url, "timeout": 5}],
    )


@dataclass
class Gateway:
    url: str
    upstream: FakeUpstream
    app: object

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)

    def run(self, name: str, **body) -> httpx.Response:
        return httpx.post(f"{self.url}/api/prompts/{name}", json=body, timeout=10)

    def log_rows(self, since: float, endpoint: str) -> list[dict]:
        request_log = self.app.state.gateway.log
        assert request_log.flush()
        return [r for r in request_log.rows(since, time.time() + 1) if r["endpoint"] == endpoint]


@contextmanager
def _gateway(
    tmp: Path, specs: list[ModelSpec], upstream: FakeUpstream, master_key: str | None = None
) -> Iterator[Gateway]:
    prompts = tmp / "prompts"
    prompts.mkdir()
    for shipped in sorted((config_dir() / "prompts").glob("*.yaml")):
        shutil.copy(shipped, prompts / shipped.name)
    (prompts / "broken.yaml").write_text(BROKEN)
    (prompts / "ghost.yaml").write_text(GHOST)
    registry = Registry(db_path=tmp / "registry.sqlite", catalog_specs=specs)
    config = RoutingConfig.model_validate(
        {
            "policies": ["explicit", "modality", "context_window", "cost"],
            "default_model": "fake-chat",
            "health": {"failure_threshold": 1000},
        }
    )
    router = RouterRunnable(registry, config, experiments=Experiments(config.experiments, tmp / "ab.sqlite"))
    app = create_app(
        registry,
        router,
        knowledge=False,
        master_key=master_key,
        keys_path=tmp / "keys.sqlite",
        request_log_path=tmp / "requests.sqlite",
        log_flush_seconds=0.05,
        prompts_dir=prompts,
    )
    with serving(app) as url:
        yield Gateway(url, upstream, app)


@pytest.fixture(scope="module")
def gw(tmp_path_factory) -> Iterator[Gateway]:
    with FakeUpstream() as upstream:
        specs = [_chat_spec(upstream.base_url), _painter_spec(upstream.base_url)]
        with _gateway(tmp_path_factory.mktemp("prompts-images"), specs, upstream) as served:
            yield served


# ---- prompt APIs ---------------------------------------------------------------------------------
def test_list_prompts_with_variables_and_broken_files(gw):
    listed = httpx.get(f"{gw.url}/api/prompts").json()
    prompts = {p["name"]: p for p in listed["data"]}
    assert sorted(prompts) == ["ghost", "summarize", "translate"]
    summarize = prompts["summarize"]
    assert summarize["model"] == "auto" and summarize["task"] == "summarization" and summarize["description"]
    variables = {v["name"]: v for v in summarize["variables"]}
    assert variables["text"]["required"] and variables["bullets"] == {
        "name": "bullets",
        "description": "Maximum number of bullet points.",
        "required": False,
        "default": 3,
    }
    assert [v["name"] for v in prompts["ghost"]["variables"]] == ["word"]  # undeclared: inferred, required
    (broken,) = listed["errors"]
    assert broken["file"] == "broken.yaml" and broken["line"] == 6 and broken["field"] == "messages[1].role"
    assert "broken.yaml:6" in broken["message"] and "'wizard'" in broken["message"]


def test_run_a_prompt_through_the_router(gw):
    since = time.time()
    response = gw.run("summarize", variables={"text": "The shop opens at 9 and closes at 18."})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["output"] == (
        "echo: Summarise the following text in at most 3 bullet points, in English.\n\n"
        "The shop opens at 9 and closes at 18."
    )
    assert answer["model"] == "fake-chat" and answer["prompt"] == "summarize"
    assert answer["modelyard_route"]["model"] == "fake-chat" and answer["usage"]["completion_tokens"] > 0
    assert "fake-chat" in response.headers["x-modelyard-route"]
    sent = gw.upstream.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["temperature"] == 0.2 and sent.get("max_tokens", sent.get("max_completion_tokens")) == 300

    translated = gw.run("translate", variables={"text": "Bonjour", "target": "German"}).json()
    assert translated["output"] == "echo: Bonjour"
    assert "into German" in gw.upstream.requests[-1].body["messages"][0]["content"]
    assert gw.upstream.requests[-1].body["temperature"] == 0
    overridden = gw.run("summarize", variables={"text": "x", "bullets": 5, "language": "French"}).json()
    assert "at most 5 bullet points, in French" in overridden["output"]

    rows = gw.log_rows(since, "prompt")
    assert [(r["model"], r["status"]) for r in rows] == [("fake-chat", 200)] * 3
    assert all(r["output_tokens"] > 0 and r["route_reason"] for r in rows)


def test_stream_a_prompt(gw):
    with httpx.stream(
        "POST",
        f"{gw.url}/api/prompts/translate",
        timeout=10,
        json={"variables": {"text": "guten Morgen allerseits"}, "stream": True},
    ) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]"
    parsed = [json.loads(e) for e in events[:-1]]
    assert "".join(e.get("output", "") for e in parsed) == "echo: guten Morgen allerseits"
    final = parsed[-1]
    assert final["prompt"] == "translate" and final["modelyard_route"]["model"] == "fake-chat"
    assert final["usage"]["completion_tokens"] == 4


def test_prompt_errors_name_what_is_wrong(gw):
    since = time.time()
    missing = gw.run("summarize", variables={"bullets": 2})
    assert missing.status_code == 422
    assert missing.json()["error"]["param"] == "variables.text"
    assert "missing variable text" in missing.json()["error"]["message"]
    assert "it takes: text, bullets, language" in missing.json()["error"]["message"]
    unknown = gw.run("translate", variables={"text": "hi", "colour": "blue"})
    assert unknown.status_code == 422 and "unknown variable colour" in unknown.json()["error"]["message"]

    nothing = gw.run("summarise", variables={"text": "x"})
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "prompt_not_found"
    assert "no prompt named 'summarise'; known: ghost, summarize, translate" in nothing.json()["error"]["message"]

    broken = gw.run("broken", variables={"text": "x"})
    assert broken.status_code == 500 and "broken.yaml:6, field 'messages[1].role'" in broken.json()["error"]["message"]

    ghost = gw.run("ghost", variables={"word": "boo"})
    assert ghost.status_code == 404 and "model 'ghost-model' does not exist" in ghost.json()["error"]["message"]

    wrong_body = gw.run("translate", variables="hello")
    assert wrong_body.status_code == 422 and wrong_body.json()["error"]["param"] == "variables"
    typo = gw.run("translate", variable={"text": "hi"})
    assert typo.status_code == 422 and typo.json()["error"]["param"] == "variable"
    assert [r["status"] for r in gw.log_rows(since, "prompt")] == [422, 422, 404]


# ---- image generation ----------------------------------------------------------------------------
def _png(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def test_openai_client_generates_a_png(gw):
    since = time.time()
    result = gw.client().images.generate(model="painter", prompt="a lighthouse at dusk", response_format="b64_json")
    assert result.created > 0 and len(result.data) == 1
    image = _png(result.data[0].b64_json)
    assert image.format == "PNG" and image.size == (8, 8)
    assert gw.upstream.requests[-1].path == "/v1/images/generations"
    assert gw.upstream.requests[-1].body["prompt"] == "a lighthouse at dusk"
    assert result.model_extra["modelyard_route"]["model"] == "painter"
    (row,) = gw.log_rows(since, "images")
    assert row["model"] == "painter" and row["deployment"] == "d0" and row["status"] == 200
    assert row["cost_usd"] == pytest.approx(0.04)  # resources.usd_per_image, once per image


def test_auto_routes_to_the_image_model_n_times_with_the_size(gw):
    before = sum(1 for r in gw.upstream.requests if r.path == "/v1/images/generations")
    result = gw.client().images.generate(prompt="two cats", n=2, size="256x256")  # model defaults to auto
    assert [_png(d.b64_json).format for d in result.data] == ["PNG", "PNG"]
    sent = [r.body for r in gw.upstream.requests if r.path == "/v1/images/generations"][before:]
    assert len(sent) == 2 and all(body["size"] == "256x256" for body in sent)
    assert "image generation" in result.model_extra["modelyard_route"]["reason"]

    as_url = gw.client().images.generate(model="auto", prompt="a dog", response_format="url")
    assert as_url.data[0].url.startswith("data:image/png;base64,")
    assert _png(as_url.data[0].url.partition(",")[2]).format == "PNG"


def test_image_errors(gw):
    since = time.time()
    with pytest.raises(openai.NotFoundError) as unknown:
        gw.client().images.generate(model="no-such-painter", prompt="x")
    assert unknown.value.body["code"] == "model_not_found" and "available: auto, fake-chat, painter" in (
        unknown.value.message
    )
    with pytest.raises(openai.BadRequestError) as text_model:
        gw.client().images.generate(model="fake-chat", prompt="x")
    assert "model 'fake-chat' does not generate images; image models: painter" in text_model.value.message
    too_many = httpx.post(f"{gw.url}/v1/images/generations", json={"prompt": "x", "n": 11})
    assert too_many.status_code == 422 and too_many.json()["error"]["param"] == "n"
    no_prompt = httpx.post(f"{gw.url}/v1/images/generations", json={"model": "painter"})
    assert no_prompt.status_code == 422 and no_prompt.json()["error"]["param"] == "prompt"
    assert [r["status"] for r in gw.log_rows(since, "images")] == [404, 400]

    gw.upstream.fail(500, times=1)
    try:
        with pytest.raises(openai.APIStatusError) as failed:
            gw.client().images.generate(model="painter", prompt="x")
    finally:
        gw.upstream.heal()
    assert failed.value.status_code == 502 and failed.value.body["attempts"][0]["model"] == "painter"


def test_naming_an_image_model_on_chat_is_a_clear_400(gw):
    # it was a 500 IndexError: the modality policy left no candidate and the planner read candidates[0]
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as refused:
            gw.client().chat.completions.create(
                model="painter", messages=[{"role": "user", "content": "draw a cat"}], stream=stream
            )
        assert refused.value.body["code"] == "no_route"
        assert "model 'painter' does not answer in text" in refused.value.message
        assert "/v1/images/generations" in refused.value.message


def test_no_image_model_is_a_clear_400(tmp_path):
    with FakeUpstream() as upstream, _gateway(tmp_path, [_chat_spec(upstream.base_url)], upstream) as text_only:
        with pytest.raises(openai.BadRequestError) as refused:
            text_only.client().images.generate(prompt="a lighthouse")
    assert "no available model generates images" in refused.value.message
    assert "modalities: {output: [image]}" in refused.value.message


def test_a_provider_url_is_downloaded_when_b64_is_asked(gw):
    url = f"{gw.upstream.root_url}/v1/models"  # any real HTTP resource: its bytes come back encoded
    message = AIMessage(content=[{"type": "image", "url": url}])
    downloaded = asyncio.run(_image(message, "b64_json"))
    assert json.loads(base64.b64decode(downloaded["b64_json"]))["object"] == "list"
    assert asyncio.run(_image(message, "url")) == {"url": url}
    dead = AIMessage(content=[{"type": "image", "url": f"http://127.0.0.1:{free_port()}/gone.png"}])
    with pytest.raises(ApiError) as failed:
        asyncio.run(_image(dead, "b64_json"))
    assert failed.value.status == 502 and failed.value.code == "image_download_failed"
    with pytest.raises(ApiError, match="without an image"):
        asyncio.run(_image(AIMessage(content="just text"), "b64_json"))


def test_prompt_and_image_apis_need_a_key_like_the_rest_of_v1(tmp_path):
    with (
        FakeUpstream() as upstream,
        _gateway(
            tmp_path,
            [_chat_spec(upstream.base_url), _painter_spec(upstream.base_url)],
            upstream,
            master_key="admin-secret",
        ) as locked,
    ):
        calls = [
            ("GET", "/api/prompts", None),
            ("POST", "/api/prompts/translate", {"variables": {"text": "hi"}}),
            ("POST", "/v1/images/generations", {"prompt": "x"}),
        ]
        for method, path, body in calls:
            anonymous = httpx.request(method, f"{locked.url}{path}", json=body, timeout=10)
            assert anonymous.status_code == 401, path
            admitted = httpx.request(
                method, f"{locked.url}{path}", json=body, timeout=10, headers={"Authorization": "Bearer admin-secret"}
            )
            assert admitted.status_code == 200, (path, admitted.text)
