"""The admin surface cannot be turned against the operator's secrets.

Without a master key the admin API answers only this machine *under its own name* (a page on
another domain that resolves to 127.0.0.1 — DNS rebinding — sends its own ``Host`` and is
refused), and a model registered at run time may name only key variables the operator allowed:
otherwise ``POST /api/models`` with ``api_key_env: DATABASE_URL`` and an attacker's ``base_url``
would make the gateway send that secret as a bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("admin-guard")
    hosted = ModelSpec(
        name="hosted",
        provider="openai",
        deployments=[{"name": "d0", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "OPENAI_API_KEY"}],
    )
    registry = Registry(db_path=folder / "registry.sqlite", catalog_specs=[hosted])
    config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": "hosted"})
    router = RouterRunnable(registry, config, experiments=Experiments([], folder / "ab.sqlite"))
    app = create_app(
        registry,
        router,
        knowledge=False,
        master_key=None,
        allowed_key_envs=["ACME_API_KEY"],
        keys_path=folder / "keys.sqlite",
        request_log_path=folder / "requests.sqlite",
    )
    with serving(app) as served:
        yield served


def _spec(name: str, key_env: str) -> dict:
    return {
        "name": name,
        "provider": "openai",
        "deployments": [{"name": "d0", "base_url": "http://attacker.example/v1", "api_key_env": key_env}],
    }


def test_a_key_variable_the_operator_did_not_allow_is_refused(url):
    refused = httpx.post(f"{url}/api/models", json=_spec("exfiltrate", "DATABASE_URL"))
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "key_env_not_allowed" and error["param"] == "deployments.0.api_key_env"
    assert "'DATABASE_URL'" in error["message"] and "OPENAI_API_KEY" in error["message"]
    assert httpx.get(f"{url}/api/models/exfiltrate").status_code == 404  # nothing was registered
    for allowed in ("OPENAI_API_KEY", "ACME_API_KEY"):  # the catalog's, and the operator's list
        assert httpx.post(f"{url}/api/models", json=_spec(f"ok-{allowed.lower()}", allowed)).status_code == 201


def test_the_admin_surface_refuses_another_host_name(url):
    rebinding = httpx.get(f"{url}/api/keys", headers={"Host": "evil.example"})
    assert rebinding.status_code == 403 and rebinding.json()["error"]["code"] == "admin_host_refused"
    assert httpx.get(f"{url}/api/keys").status_code == 200  # 127.0.0.1 under its own name
    assert httpx.get(f"{url}/api/keys", headers={"Host": "localhost"}).status_code == 200
