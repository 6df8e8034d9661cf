"""A gateway app over given catalog specs, with every file it keeps in a test's own folder.

Most gateway tests need the same thing: a :class:`~models.registry.Registry` holding a few specs
(usually models on the fake upstream), a :class:`~routers.router.RouterRunnable` with a small
routing config, and ``create_app`` writing its registry, A/B, keys and request-log files under the
test's temporary folder (never the shared data folder, where a key would close other tests' servers).

Example:
    >>> app = gateway_app(tmp_path, [spec], default_model="hosted")                 # doctest: +SKIP
    >>> with serving(app) as url:                                                     # doctest: +SKIP
    ...     openai.OpenAI(base_url=f"{url}/v1", api_key="unused").models.list()
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from app.server import create_app
from app.server.jobs.settings import JobSettings
from models.registry import Registry
from models.spec import ModelSpec
from routers.config import RoutingConfig
from routers.experiments import Experiments
from routers.router import RouterRunnable

__all__ = ["DEFAULT_POLICIES", "gateway_app", "test_router"]

DEFAULT_POLICIES = ("explicit", "modality", "context_window", "cost")
"""The routing policies of a test gateway: no task classifier (no embedding model to load)."""


def test_router(
    folder: Path, specs: list[ModelSpec], *, database_url: str | None = None, **routing: Any
) -> RouterRunnable:
    """A router over ``specs`` (registry and A/B files in ``folder``, or in ``database_url``); ``routing``
    overrides the config, e.g. ``default_model``, ``fallbacks`` or ``policies``."""
    settings = {"policies": list(DEFAULT_POLICIES), "default_model": specs[0].name, **routing}
    registry = Registry(db_path=database_url or folder / "registry.sqlite", catalog_specs=specs)
    config = RoutingConfig.model_validate(settings)
    experiments = Experiments(config.experiments, database_url or folder / "ab.sqlite")
    return RouterRunnable(registry, config, experiments=experiments)


test_router.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test pytest should collect


def gateway_app(folder: Path, specs: list[ModelSpec], *, routing: dict[str, Any] | None = None, **app: Any) -> FastAPI:
    """``create_app`` over :func:`test_router`'s router, without the knowledge routes unless
    ``knowledge=True``; keys, request log, stored responses, services and batches in ``folder``; ``app``
    passes ``master_key`` and the like through (``jobs=JobSettings(...)`` replaces the batches' settings);
    ``database_url=`` puts every store in that database instead, as ``DATABASE_URL`` does."""
    router = test_router(folder, specs, database_url=app.get("database_url"), **(routing or {}))
    paths = {
        "keys_path": folder / "keys.sqlite",
        "request_log_path": folder / "requests.sqlite",
        "responses_path": folder / "responses.sqlite",
        "services_path": folder / "services.sqlite",
        "jobs": JobSettings(batches_path=folder / "batches.sqlite", jobs_path=folder / "jobs.sqlite"),
    }
    return create_app(router.registry, router, **{"knowledge": False, **paths, **app})
