"""Process-wide objects the Streamlit pages share, built once per server process.

The registry, the routing configuration, the deployment health tracker and the A/B experiments
are built together (the router and the pages share them, so the Models page can show health
and the Dashboard experiments without loading the router's classifier). The router and the
request log — the same log the gateway writes, ``data/requests.sqlite`` or ``DATABASE_URL`` —
are built on first use. Everything is keyed by the data and config folders
(``MODELYARD_DATA_DIR``, ``MODELYARD_CONFIG_DIR``): one set per folder pair, which in a running
app means exactly one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from langchain_core.runnables import Runnable

from core.settings import config_dir, data_dir
from models.registry import Registry
from routers.config import RoutingConfig, load_routing_config
from routers.experiments import Experiments
from routers.health import HealthTracker

if TYPE_CHECKING:
    from app.server.gateway.services import ServiceCatalog
    from app.ui.ingest_jobs import IngestJobs
    from routers.router import RouterRunnable
    from store.request_log import RequestLog
    from store.shop_orders import ShopOrders

__all__ = [
    "Shared",
    "assistant",
    "experiments",
    "health",
    "ingest_jobs",
    "registry",
    "request_log",
    "request_log_target",
    "router",
    "routing_config",
    "service_catalog",
    "shared",
    "support_bot",
]


@dataclass(frozen=True)
class Shared:
    """The cheap shared objects: built together, once per (data folder, config folder)."""

    registry: Registry
    """Catalog + runtime registrations."""
    routing: RoutingConfig
    """``config/routing.yaml`` (restart the app to pick up edits)."""
    health: HealthTracker
    """Deployment health, fed by the router's calls."""
    experiments: Experiments
    """A/B experiments with their runtime status and per-arm statistics."""


def _folders() -> tuple[str, str]:
    return str(data_dir()), str(config_dir())


@st.cache_resource(show_spinner=False)
def _shared(data: str, config: str) -> Shared:
    routing = load_routing_config()
    experiments = Experiments(routing.experiments, retention_days=routing.experiment_retention_days)
    health = HealthTracker(routing.health)
    if redis_url := os.environ.get("REDIS_URL"):  # the same deployment health as the gateway replicas
        from routers.health_redis import RedisHealthBoard

        health.share(RedisHealthBoard(redis_url, prefix=os.environ.get("MODELYARD_REDIS_PREFIX") or "modelyard"))
    return Shared(Registry(), routing, health, experiments)


# no spinner: the warm-up thread builds it, and a spinner from that thread lands in a script run that already
# ended (the chat page shows the warm-up's own loading state instead)
@st.cache_resource(show_spinner=False)
def _router(data: str, config: str) -> RouterRunnable:
    from routers.router import RouterRunnable

    parts = _shared(data, config)
    classifier = None
    if "task" in parts.routing.policies:
        from routers.task import TaskClassifier

        task = parts.routing.task
        classifier = TaskClassifier.from_config(task) if task else TaskClassifier.from_config()
    return RouterRunnable(parts.registry, parts.routing, classifier, experiments=parts.experiments, health=parts.health)


@st.cache_resource(show_spinner=False)
def _request_log(target: str) -> RequestLog:
    from store.request_log import RequestLog

    return RequestLog(target if "://" in target else Path(target))


def shared() -> Shared:
    """The registry, routing config, health tracker and experiments of this data folder."""
    return _shared(*_folders())


def registry() -> Registry:
    """The model registry (catalog + runtime registrations), shared by every session."""
    return shared().registry


def routing_config() -> RoutingConfig:
    return shared().routing


def health() -> HealthTracker:
    return shared().health


def experiments() -> Experiments:
    return shared().experiments


def router() -> RouterRunnable:
    """The RouterRunnable behind the ``auto`` choice (loads the task classifier the first time)."""
    return _router(*_folders())


def request_log_target() -> str:
    """Where the gateway's request log lives: ``DATABASE_URL`` if set, else ``data/requests.sqlite``."""
    return os.environ.get("DATABASE_URL") or str(data_dir() / "requests.sqlite")


def request_log() -> RequestLog:
    """The request log the chat writes to (one background writer per server process)."""
    return _request_log(request_log_target())


@st.cache_resource(show_spinner=False)
def _service_catalog(data: str, config: str) -> ServiceCatalog:
    from app.ui.services_view import open_catalog

    return open_catalog(Path(data))


def service_catalog() -> ServiceCatalog:
    """The published services, subscriptions and subscription keys, on the gateway's files in the data folder."""
    return _service_catalog(*_folders())


@st.cache_resource(show_spinner=False)
def _ingest_jobs(data: str) -> IngestJobs:
    from app.ui.ingest_jobs import IngestJobs
    from store.batches_db import BatchesDB
    from store.database import store_location
    from store.jobs_db import JobsDB

    folder = Path(data)
    return IngestJobs(
        JobsDB(store_location("jobs.sqlite", folder)), BatchesDB(store_location("batches.sqlite", folder))
    )


def ingest_jobs() -> IngestJobs:
    """The Knowledge page's ingestion jobs (one background runner per server process)."""
    return _ingest_jobs(str(data_dir()))


def assistant(
    model: Runnable[Any, Any] | None, collection: str | None, answer_style: str = "generative"
) -> Runnable[Any, Any]:
    """The moderated assistant over ``model`` (``None`` = the router), grounded in ``collection``;
    ``answer_style="extractive"`` quotes the sources instead of calling the model."""
    from chains.assistant import build_assistant

    return build_assistant(
        model if model is not None else router(),
        policy="default",
        collection=collection,
        answer_style="extractive" if answer_style == "extractive" else "generative",
    )


@st.cache_resource(show_spinner=False)
def _shop(data: str) -> ShopOrders:
    from store.shop_orders import ShopOrders

    return ShopOrders(Path(data) / "shop_orders.sqlite")


def support_bot(
    model: Runnable[Any, Any] | None, collection: str, answer_style: str = "generative"
) -> Runnable[Any, Any]:
    """The customer-service bot (:mod:`chains.support`) over ``model`` (``None`` = the router), grounded in
    ``collection``, with the sample shop's order tools; tools are picked by rules."""
    from chains.support import build_support_bot

    return build_support_bot(
        model if model is not None else router(),
        collection,
        _shop(str(data_dir())),
        answer_style="extractive" if answer_style == "extractive" else "generative",
    )
