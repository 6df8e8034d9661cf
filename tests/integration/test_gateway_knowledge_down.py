"""A knowledge base that cannot be opened does not take the gateway down.

The data folder's Chroma store is corrupt (its SQLite file is garbage). The gateway still starts
and serves models; ``/support`` answers 503 naming the cause and how to rebuild it.
"""

from __future__ import annotations

import httpx

from app.server import create_app
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable
from tests.support.serving import serving
from tests.support.upstream import FakeUpstream


def test_a_corrupt_chroma_folder_leaves_models_served_and_knowledge_routes_503(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "chroma").mkdir(parents=True)
    (data / "chroma" / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("MODELYARD_DATA_DIR", str(data))
    with FakeUpstream() as upstream:
        spec = ModelSpec(name="chat", provider="openai", deployments=[{"name": "d0", "base_url": upstream.base_url}])
        registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=[spec])
        config = RoutingConfig.model_validate({"policies": ["explicit"], "default_model": "chat"})
        router = RouterRunnable(registry, config, experiments=Experiments([], tmp_path / "ab.sqlite"))
        app = create_app(
            registry, router, knowledge=True, keys_path=tmp_path / "keys.sqlite", request_log_path=tmp_path / "r.sqlite"
        )
        with serving(app) as url:
            assert httpx.get(f"{url}/healthz").status_code == 200
            body = {"model": "chat", "messages": [{"role": "user", "content": "still there?"}]}
            assert httpx.post(f"{url}/v1/chat/completions", json=body).status_code == 200
            down = httpx.post(f"{url}/support/invoke", json={"input": {"question": "How do returns work?"}})
            assert down.status_code == 503, down.text
            error = down.json()["error"]
            assert error["code"] == "knowledge_unavailable" and "python -m knowledge delete shop" in error["message"]
