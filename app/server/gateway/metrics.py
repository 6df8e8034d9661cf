"""Prometheus metrics of one gateway, in its own registry (no process-wide globals).

Series: ``modelyard_requests_total`` (endpoint, model, deployment, status),
``modelyard_request_latency_seconds`` and ``modelyard_ttft_seconds`` histograms,
``modelyard_tokens_total`` (model, deployment, direction), ``modelyard_cost_usd_total``
(model, deployment), ``modelyard_errors_total`` (error class) and
``modelyard_cache_requests_total`` (kind, result).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

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

    def render(self) -> bytes:
        """The Prometheus text exposition of every series."""
        return generate_latest(self.registry)
