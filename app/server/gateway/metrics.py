"""Prometheus metrics of one gateway, in its own registry (no process-wide globals).

Series: ``modelyard_requests_total`` (endpoint, model, deployment, status),
``modelyard_request_latency_seconds`` and ``modelyard_ttft_seconds`` histograms,
``modelyard_tokens_total`` (model, deployment, direction), ``modelyard_cost_usd_total``
(model, deployment), ``modelyard_errors_total`` (error class),
``modelyard_cache_requests_total`` (kind, result), ``modelyard_redis_roundtrips_total`` (use:
``limits``, ``cache``; with ``REDIS_URL``), and — read from the router's health at scrape
time — ``modelyard_deployment_cooling`` (1 while a deployment is skipped: cooling down, or probed
by another replica) and ``modelyard_deployment_in_flight`` (model, deployment).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from routers.health import HealthTracker
from store.request_log import CallRecord

__all__ = ["UNKNOWN_MODEL", "GatewayMetrics"]

UNKNOWN_MODEL = "(unknown)"
"""The label of every model name the registry does not know."""

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayMetrics:
    """Counters and histograms fed with one :class:`CallRecord` per request.

    Example:
        >>> metrics = GatewayMetrics()
        >>> metrics.observe(CallRecord(endpoint="chat", model="m", status=200, latency_s=0.1))
        >>> b"modelyard_requests_total" in metrics.render()
        True
    """

    def __init__(self, known_model: Callable[[str], bool] | None = None) -> None:
        """``known_model(name)`` says whether ``name`` is a registry model (or ``auto``); other names,
        typed by callers, share one label value so ``/metrics`` stays bounded."""
        self._known = known_model or (lambda _: True)
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "modelyard_requests",
            "Requests served",
            ["endpoint", "model", "deployment", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "modelyard_request_latency_seconds",
            "Whole-request latency",
            ["endpoint", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.ttft = Histogram(
            "modelyard_ttft_seconds",
            "Time to first streamed token",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "modelyard_tokens",
            "Tokens processed",
            ["model", "deployment", "direction"],
            registry=self.registry,
        )
        self.cost = Counter(
            "modelyard_cost_usd", "Estimated spend in USD", ["model", "deployment"], registry=self.registry
        )
        self.errors = Counter(
            "modelyard_errors", "Failed requests by error class", ["error_class"], registry=self.registry
        )
        self.redis_roundtrips = Counter(
            "modelyard_redis_roundtrips",
            "Round-trips to Redis that requests waited on (use: limits, cache)",
            ["use"],
            registry=self.registry,
        )
        self.cache_requests = Counter(
            "modelyard_cache_requests",
            "Chat requests that consulted the response cache, by mode and result",
            ["kind", "result"],
            registry=self.registry,
        )

    def observe(self, call: CallRecord) -> None:
        """Account one finished request."""
        # a name the registry does not know is whatever the caller typed: one label for all of them
        model = (call.model or "-") if self._known(call.model) else UNKNOWN_MODEL
        deployment = call.deployment or "-"
        self.requests.labels(call.endpoint, model, deployment, str(call.status)).inc()
        self.latency.labels(call.endpoint, model).observe(call.latency_s)
        if call.ttft_s is not None:
            self.ttft.labels(model).observe(call.ttft_s)
        if call.input_tokens:
            self.tokens.labels(model, deployment, "input").inc(call.input_tokens)
        if call.output_tokens:
            self.tokens.labels(model, deployment, "output").inc(call.output_tokens)
        if call.cost_usd:
            self.cost.labels(model, deployment).inc(call.cost_usd)
        if call.error_class:
            self.errors.labels(call.error_class).inc()

    def cache_lookup(self, kind: str, result: str) -> None:
        """Count one response-cache lookup (``kind`` exact/semantic; ``result`` hit, semantic_hit,
        miss or bypass)."""
        self.cache_requests.labels(kind, result).inc()

    def watch_health(self, health: HealthTracker) -> None:
        """Expose ``health``'s deployments as gauges, read when ``/metrics`` is scraped."""
        self.registry.register(_HealthCollector(health))

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)


class _HealthCollector(Collector):
    """The deployments' cooldown and in-flight gauges, from one snapshot per scrape."""

    def __init__(self, health: HealthTracker):
        self.health = health

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "deployment"]
        cooling = GaugeMetricFamily("modelyard_deployment_cooling", "Deployment skipped now (1)", labels=labels)
        in_flight = GaugeMetricFamily("modelyard_deployment_in_flight", "Calls under way", labels=labels)
        for model, deployment in self.health.snapshot():
            cooling.add_metric([model, deployment], 1.0 if self.health.cooling(model, deployment) else 0.0)
            in_flight.add_metric([model, deployment], float(self.health.in_flight(model, deployment)))
        yield cooling
        yield in_flight
