"""``MODELYARD_PROTECT_OPS`` puts ``/metrics`` and the API docs behind a key; off, they stay open.

Two gateways on loopback with a master key, one with ``protect_ops`` and one without; ``httpx``
calls them with no key, a consumer key, a wrong key and the master key.
"""

from __future__ import annotations

from collections.abc import Iterator
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

MASTER = "master-ops-guard"
OPS_PATHS = ("/metrics", "/docs", "/redoc", "/openapi.json")


def _gateway(folder: Path, protect_ops: bool) -> Iterator[str]:
    hosted = ModelSpec(
        name="hosted", provider="openai", deployments=[{"name": "d0", "base_url": "http://127.0.0.1:9/v1"}]
    )
    registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=[hosted])
    config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": "hosted"})
    router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
    app = create_app(
        registry,
        router,
        knowledge=False,
        master_key=MASTER,
        protect_ops=protect_ops,
        keys_path=folder / "keys.sqlite",
        request_log_path=folder / "requests.sqlite",
    )
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def protected(tmp_path_factory) -> Iterator[str]:
    yield from _gateway(tmp_path_factory.mktemp("ops-protected"), protect_ops=True)


@pytest.fixture(scope="module")
def open_ops(tmp_path_factory) -> Iterator[str]:
    yield from _gateway(tmp_path_factory.mktemp("ops-open"), protect_ops=False)


def _consumer_key(url: str) -> str:
    created = httpx.post(f"{url}/api/keys", headers={"Authorization": f"Bearer {MASTER}"}, json={"name": "scraper"})
    assert created.status_code == 201, created.text
    return created.json()["secret"]


@pytest.mark.parametrize("path", OPS_PATHS)
def test_protected_ops_paths_refuse_a_caller_without_a_key(protected, path):
    refused = httpx.get(f"{protected}{path}")
    assert refused.status_code == 401, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invalid_api_key" and "MODELYARD_PROTECT_OPS" in error["message"]
    assert refused.headers["www-authenticate"] == "Bearer"
    wrong = httpx.get(f"{protected}{path}", headers={"Authorization": "Bearer not-a-key"})
    assert wrong.status_code == 401


def test_protected_ops_paths_answer_a_consumer_key_and_the_admin(protected):
    consumer = _consumer_key(protected)
    for token in (consumer, MASTER):
        for path in OPS_PATHS:
            answer = httpx.get(f"{protected}{path}", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, (path, answer.text)
    metrics = httpx.get(f"{protected}/metrics", headers={"x-api-key": consumer})
    assert metrics.status_code == 200 and "modelyard" in metrics.text
    assert httpx.get(f"{protected}/openapi.json", headers={"x-api-key": consumer}).json()["info"]["title"]


def test_healthz_stays_open_when_ops_are_protected(protected):
    assert httpx.get(f"{protected}/healthz").json() == {"status": "ok"}


def test_ops_paths_are_open_by_default(open_ops):
    for path in OPS_PATHS:
        assert httpx.get(f"{open_ops}{path}").status_code == 200, path
