"""What the Models page shows and does, without Streamlit: catalog rows with deployment health,
the registration form turned into a :class:`~models.spec.ModelSpec` (or readable errors per
field), and a one-prompt smoke test of a model.

Example:
    >>> form = ModelForm(name="my-vllm", provider="openai", base_url="http://127.0.0.1:8001/v1")
    >>> spec, errors = form.validate()
    >>> (spec.name, errors)
    ('my-vllm', [])
    >>> ModelForm(name="bad name", provider="openai").validate()[1][0].field
    'Name'
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from models.factory import build_chat_model
from models.registry import ModelEntry
from models.spec import ModelSpec
from routers.health import DeploymentHealth
from store.request_log import CallRecord

__all__ = [
    "FieldError",
    "ModelForm",
    "QuickTest",
    "deployment_rows",
    "deployment_state",
    "errors_by_field",
    "model_rows",
    "quick_test",
    "test_record",
]

TEST_ENDPOINT = "ui_test"
"""The request log's endpoint for the Models page's test prompt."""

LABELS = {
    "name": "Name",
    "provider": "Provider",
    "description": "Description",
    "tasks": "Tasks",
    "modalities.input": "Input modalities",
    "modalities.output": "Output modalities",
    "cost.input_per_1k": "Input price (USD / 1K tokens)",
    "cost.output_per_1k": "Output price (USD / 1K tokens)",
    "context_window": "Context window",
    "quality": "Quality",
    "source.package": "Weights package",
    "source.file": "Weights file",
    "deployments.0.name": "Deployment name",
    "deployments.0.base_url": "Base URL",
    "deployments.0.api_key_env": "API key variable",
    "deployments.0.model_id": "Provider model id",
}
"""Form labels by the spec field they fill."""

_RULES = {
    "string_pattern_mismatch": "use letters, digits and . _ : / - only, starting with a letter or digit",
    "string_too_short": "is required",
}
"""Pydantic messages that read better rewritten for a form."""


@dataclass(frozen=True)
class FieldError:
    """One validation problem, named by the form label it belongs to."""

    field: str
    message: str


@dataclass
class ModelForm:
    """The registration form's values (empty strings mean "not given")."""

    name: str = ""
    provider: str = "openai"
    description: str = ""
    base_url: str = ""
    api_key_env: str = ""
    model_id: str = ""
    deployment: str = "default"
    tasks: list[str] = field(default_factory=list)
    input_modalities: list[str] = field(default_factory=lambda: ["text"])
    output_modalities: list[str] = field(default_factory=lambda: ["text"])
    input_per_1k: float = 0.0
    output_per_1k: float = 0.0
    context_window: int = 4096
    quality: int = 10
    package: str = ""
    weights_file: str = ""

    def as_spec_data(self) -> dict[str, Any]:
        """The catalog entry this form describes (the shape of one ``models.yaml`` item)."""
        data: dict[str, Any] = {
            "name": self.name.strip(),
            "provider": self.provider,
            "description": self.description.strip(),
            "tasks": list(self.tasks),
            "modalities": {"input": list(self.input_modalities), "output": list(self.output_modalities)},
            "cost": {"input_per_1k": self.input_per_1k, "output_per_1k": self.output_per_1k},
            "context_window": self.context_window,
            "quality": self.quality,
        }
        if "text" in self.output_modalities:  # what every OpenAI-style chat endpoint accepts
            data["params"] = {
                "temperature": {"type": "float", "default": 0.7, "min": 0, "max": 2},
                "max_tokens": {"type": "int", "min": 1, "max": max(self.context_window, 1)},
            }
        if self.weights_file.strip():
            data["source"] = {"package": self.package.strip() or None, "file": self.weights_file.strip()}
        endpoint = {
            "base_url": self.base_url.strip(),
            "api_key_env": self.api_key_env.strip(),
            "model_id": self.model_id.strip(),
        }
        if endpoint["base_url"] or endpoint["model_id"]:
            deployment = {"name": self.deployment.strip() or "default"}
            deployment.update({key: value for key, value in endpoint.items() if value})
            data["deployments"] = [deployment]
        return data

    def validate(self) -> tuple[ModelSpec | None, list[FieldError]]:
        """The spec, or ``None`` and every problem pydantic found, per form field."""
        try:
            return ModelSpec.model_validate(self.as_spec_data()), []
        except ValidationError as exc:
            return None, [_field_error(error) for error in exc.errors()]


def errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    """Messages per form label, for showing each one under its field."""
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(error.field, []).append(error.message)
    return found


def _message(error: Any) -> str:
    bounds = error.get("ctx") or {}
    if error["type"] == "greater_than_equal":
        return f"must be {bounds['ge']} or more"
    if error["type"] == "less_than_equal":
        return f"must be {bounds['le']} or less"
    if error["type"] == "greater_than":
        return f"must be more than {bounds['gt']}"
    return _RULES.get(error["type"], error["msg"].removeprefix("Value error, "))


def _field_error(error: Any) -> FieldError:
    where = ".".join(str(part) for part in error["loc"])
    message = _message(error)
    if not where:  # a whole-spec rule: name the field it is about
        where = "deployments.0.base_url" if "deployment" in message else "source.file" if "source" in message else ""
    label = LABELS.get(where) or where.replace("_", " ").replace(".", " → ").capitalize() or "Model"
    return FieldError(label, message)


def deployment_state(entry: ModelEntry, deployment: str, health: DeploymentHealth | None, now: float) -> str:
    """A deployment's state in words: offline, cooling down, probing, failing, healthy or unused."""
    if deployment in entry.offline_deployments:
        return "offline"
    if health is None:
        return "no calls yet"
    if health.cooldown_until > now:
        return f"cooling down ({health.cooldown_until - now:.0f} s left; {health.last_error or 'failures'})"
    if health.probing:
        return "half-open (one probe running)"
    if health.failures:
        return f"{health.failures} recent failure(s): {health.last_error}"
    return "healthy"


def model_rows(
    entries: list[ModelEntry], health: dict[tuple[str, str], DeploymentHealth], now: float
) -> list[dict[str, Any]]:
    """One row per model for the catalog table (``now`` on the health tracker's monotonic clock)."""
    rows = []
    for entry in entries:
        spec = entry.spec
        deployments = "; ".join(
            f"{d.name}: {deployment_state(entry, d.name, health.get((spec.name, d.name)), now)}"
            for d in spec.deployments
        )
        rows.append(
            {
                "model": spec.name,
                "available": entry.availability.available,
                "why not": entry.availability.reason,
                "provider": spec.provider,
                "origin": entry.origin,
                "tasks": ", ".join(spec.tasks),
                "in → out": f"{'+'.join(spec.modalities.input)} → {'+'.join(spec.modalities.output)}",
                "capabilities": ", ".join(spec.capability_names()),
                "$ / 1K in": spec.cost.input_per_1k,
                "$ / 1K out": spec.cost.output_per_1k,
                "context": spec.context_window,
                "quality": spec.quality,
                "deployments": deployments,
            }
        )
    return rows


def deployment_rows(
    entries: list[ModelEntry], health: dict[tuple[str, str], DeploymentHealth], now: float
) -> list[dict[str, Any]]:
    """One row per deployment: where it is, its state and what the router measured."""
    rows = []
    for entry in entries:
        for dep in entry.spec.deployments:
            state = health.get((entry.spec.name, dep.name))
            rows.append(
                {
                    "model": entry.spec.name,
                    "deployment": dep.name,
                    "endpoint": dep.base_url or ("in-process" if entry.spec.is_local else "provider default"),
                    "key variable": dep.api_key_env or "",
                    "state": deployment_state(entry, dep.name, state, now),
                    "calls ok": state.total_successes if state else 0,
                    "failures": state.total_failures if state else 0,
                    "in flight": state.in_flight if state else 0,
                    "latency (ms)": round(state.latency_ewma * 1000) if state and state.latency_ewma else None,
                }
            )
    return rows


@dataclass(frozen=True)
class QuickTest:
    """The outcome of one test prompt."""

    answer: str
    latency_s: float
    input_tokens: int
    output_tokens: int
    cost_usd: float


def quick_test(spec: ModelSpec, prompt: str, deployment: str | None = None, max_tokens: int = 64) -> QuickTest:
    """Send ``prompt`` straight to one model (no routing, no moderation) and measure the answer.

    Raises:
        ProviderError: the model could not be called.
        ParameterError: the model does not accept ``max_tokens`` in that range.
    """
    params = {"max_tokens": max_tokens} if "max_tokens" in spec.params else {}
    model = build_chat_model(spec, deployment, params)
    started = time.perf_counter()
    reply = model.invoke(prompt)
    latency = time.perf_counter() - started
    usage: dict[str, Any] = dict(reply.usage_metadata or {})
    answer = reply.text or ("(an image)" if isinstance(reply.content, list) and reply.content else "")
    return QuickTest(
        answer,
        latency,
        usage.get("input_tokens", 0),
        usage.get("output_tokens", 0),
        float(reply.response_metadata.get("cost_usd", 0.0)),
    )


def test_record(
    spec: ModelSpec, outcome: QuickTest | None, latency_s: float = 0.0, error: BaseException | None = None
) -> CallRecord:
    """The request-log row of one test prompt (endpoint ``ui_test``), so the Dashboard counts it."""
    from app.server.http.errors import status_of

    deployment = spec.deployments[0].name if spec.deployments else ""
    call = CallRecord(endpoint=TEST_ENDPOINT, model=spec.name, deployment=deployment, latency_s=latency_s)
    if outcome is not None:
        call.latency_s, call.cost_usd = outcome.latency_s, outcome.cost_usd
        call.input_tokens, call.output_tokens = outcome.input_tokens, outcome.output_tokens
    if error is not None:
        call.status, call.error_class = status_of(error).status, type(error).__name__
    return call
