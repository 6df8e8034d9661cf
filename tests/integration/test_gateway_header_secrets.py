"""A registered model's headers never hold a literal credential, so no listing can show one.

``POST /api/server/register`` (OperateGPT's format) and ``POST /api/models`` with
``Authorization: Bearer sk-...`` are refused with a 422 naming the header and saying what to write
instead; the ``{API_KEY}`` form is stored as written and filled from the environment at call time,
so the fake upstream sees the key while ``GET /api/models`` never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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

SECRET = "sk-live-0123456789abcdefSECRET"
EXTRACT = "data.items[].attributes.answer"


@dataclass
class Served:
    url: str
    upstream: FakeUpstream


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("header-secrets")
    with pytest.MonkeyPatch.context() as env, FakeUpstream() as upstream:
        env.setenv("ACME_TEMPLATE_KEY", SECRET)
        hosted = ModelSpec(
            name="hosted", provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}]
        )
        registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=[hosted])
        config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": "hosted"})
        router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
        app = create_app(
            registry,
            router,
            knowledge=False,
            master_key=None,
            allowed_key_envs=["ACME_TEMPLATE_KEY"],
            keys_path=folder / "keys.sqlite",
            request_log_path=folder / "requests.sqlite",
        )
        with serving(app) as url:
            yield Served(url, upstream)


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert "headers.Authorization" in error["message"] and "{API_KEY}" in error["message"]
    assert "api_key_env" in error["message"] and SECRET not in answer.text


def test_operategpt_register_refuses_a_literal_bearer_token(served):
    answer = httpx.post(
        f"{served.url}/api/server/register",
        json={
            "model_name": "literal-op",
            "req_url_template": f"{served.upstream.root_url}/template/op",
            "body": {"q": "{USER_PROMPT}"},
            "response_extract": EXTRACT,
            "header": {"Authorization": f"Bearer {SECRET}"},
        },
    )
    _assert_refused(answer)
    assert httpx.get(f"{served.url}/api/models/literal-op").status_code == 404


def _spec(name: str, authorization: str, upstream: FakeUpstream) -> dict:
    template = {
        "body": {"q": "{USER_PROMPT}"},
        "response_extract": EXTRACT,
        "headers": {"Authorization": authorization},
    }
    deployment = {"name": "d0", "base_url": f"{upstream.root_url}/template/{name}", "api_key_env": "ACME_TEMPLATE_KEY"}
    return {"name": name, "provider": "http_template", "http_template": template, "deployments": [deployment]}


def test_a_full_spec_with_a_literal_token_is_refused_and_the_placeholder_form_authenticates(served):
    literal = _spec("literal-full", f"Bearer {SECRET}", served.upstream)
    _assert_refused(httpx.post(f"{served.url}/api/models", json=literal))
    stored = httpx.post(f"{served.url}/api/models", json=_spec("by-env", "Bearer {API_KEY}", served.upstream))
    assert stored.status_code == 201, stored.text
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="unused", max_retries=0)
    client.chat.completions.create(model="by-env", messages=[{"role": "user", "content": "hello"}])
    sent = next(r for r in reversed(served.upstream.requests) if r.path == "/template/by-env")
    assert sent.headers["authorization"] == f"Bearer {SECRET}"  # filled at call time
    for listing in (httpx.get(f"{served.url}/api/models"), httpx.get(f"{served.url}/api/models/by-env")):
        assert listing.status_code == 200 and SECRET not in listing.text and "{API_KEY}" in listing.text
