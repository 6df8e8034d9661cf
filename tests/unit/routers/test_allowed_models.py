"""The ``allowed_models`` hint: a consumer key's model list bounds the choice and every fallback."""

from __future__ import annotations

import pytest

from core.errors import RoutingError
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.request import RouteRequest
from routers.router import RouterRunnable


@pytest.fixture
def router(tmp_path) -> RouterRunnable:
    specs = [
        ModelSpec(
            name=name,
            provider="openai",
            quality=quality,
            deployments=[{"name": "d0", "base_url": "http://127.0.0.1:9/v1"}],
        )
        for name, quality in (("main", 90), ("backup", 50), ("spare", 10))
    ]
    config = RoutingConfig.model_validate(
        {
            "policies": ["explicit", "modality", "context_window", "cost"],
            "default_model": "main",
            "fallbacks": {"by_model": {"spare": ["main"]}, "default": ["main"]},
        }
    )
    registry = Registry(db_path=tmp_path / "registry.sqlite", catalog_specs=specs)
    return RouterRunnable(registry, config, experiments=Experiments(config.experiments, tmp_path / "ab.sqlite"))


def plan(router: RouterRunnable, **hints) -> list[str]:
    request = RouteRequest.parse({"messages": [("user", "hi")], **hints})
    candidates, record = router.decide(request)
    return [entry.spec.name for entry, _ in router.plan(request, candidates, record)]


def test_auto_chooses_and_falls_back_only_among_the_allowed_models(router):
    assert plan(router)[0] == "main" and "main" in plan(router, model="spare")
    assert plan(router, allowed_models=["backup", "spare"]) == ["backup", "spare"]
    assert plan(router, model="spare", allowed_models=("spare",)) == ["spare"]  # its main fallback is dropped


def test_no_allowed_model_available_is_a_routing_error(router):
    with pytest.raises(RoutingError, match=r"none of the allowed models \(retired\) is available"):
        plan(router, allowed_models=["retired"])
