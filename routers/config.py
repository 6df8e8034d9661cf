"""``config/routing.yaml``: which policies run, in what order, and their settings.

One section per policy, validated with pydantic (the ``task:`` section belongs to the task
classifier, :mod:`routers.task`). A bad file fails with the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import CatalogError
from core.settings import config_dir
from core.yaml_locations import describe, dotted, line_of, parse_yaml
from routers.balance import Strategy
from routers.health import HealthConfig

__all__ = ["ArmConfig", "CostConfig", "ExperimentConfig", "FallbackConfig", "RoutingConfig", "load_routing_config"]

POLICY_NAMES = ("explicit", "modality", "context_window", "task", "ab", "cost")
"""The default policy order (every name must be registered in :data:`routers.policies.POLICIES`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArmConfig(_Strict):
    name: str
    model: str
    """Catalog model this arm routes to."""
    weight: float = Field(gt=0)
    """Relative share of assignments (e.g. 90 and 10)."""


class ExperimentConfig(_Strict):
    name: str
    status: Literal["active", "paused", "ended"] = "active"
    """Only active experiments assign arms; a runtime pause/end overrides this."""
    default: bool = False
    """Applies to requests that name no experiment."""
    arms: list[ArmConfig] = Field(min_length=2)


class FallbackConfig(_Strict):
    by_model: dict[str, list[str]] = {}
    """model → models to try, in order, when it fails."""
    by_task: dict[str, list[str]] = {}
    """task → models to try when the chosen one fails."""
    default: list[str] = []
    """Tried last, after every candidate."""


class CostConfig(_Strict):
    expected_output_tokens: int = Field(256, ge=1)
    """Output tokens assumed when a request gives no max_tokens."""
    min_quality: dict[str, int] = {}
    """task → minimum catalog ``quality`` the cost policy may pick."""


class RoutingConfig(_Strict):
    policies: list[str] = list(POLICY_NAMES)
    """Policies in the order they run (names registered in :data:`routers.policies.POLICIES`)."""

    @field_validator("policies")
    @classmethod
    def _registered(cls, names: list[str]) -> list[str]:
        from routers.policies import POLICIES  # here: the policies import this module's settings

        unknown = [name for name in names if name not in POLICIES]
        if unknown:
            known = ", ".join(f"'{name}'" for name in POLICIES)
            raise ValueError(f"Input should be one of the registered policies {known} (got {unknown[0]!r})")
        return names

    default_model: str | None = "smollm2-135m"
    """Preferred when no policy expresses a preference."""
    balance: Strategy = "round_robin"
    health: HealthConfig = HealthConfig()
    fallbacks: FallbackConfig = FallbackConfig()
    cost: CostConfig = CostConfig()
    experiments: list[ExperimentConfig] = []
    experiment_retention_days: float | None = Field(90.0, gt=0)
    """A/B outcomes (and their feedback) older than this are deleted; ``null`` keeps them all."""
    max_fallback_models: int = Field(3, ge=0)
    """Other candidates tried after the chosen model and its configured fallbacks."""
    timeout_seconds: float = Field(120.0, gt=0)
    """Budget for one request, fallbacks included."""
    task: dict[str, Any] = {}
    """The task classifier's section (see routers.task)."""

    @model_validator(mode="after")
    def _unique_experiments(self) -> RoutingConfig:
        names = [e.name for e in self.experiments]
        if len(names) != len(set(names)):
            raise ValueError(f"experiment names must be unique, got {names}")
        return self


def load_routing_config(path: Path | None = None) -> RoutingConfig:
    """Read and validate ``routing.yaml`` (defaults when the file does not exist)."""
    path = path or config_dir() / "routing.yaml"
    if not path.exists():
        return RoutingConfig()
    text = path.read_text(encoding="utf-8")
    root, data = parse_yaml(text, str(path))
    try:
        return RoutingConfig.model_validate(data or {})
    except ValidationError as exc:
        message, loc = describe(exc, "see routers/config.py for the sections")
        raise CatalogError(message, source=str(path), line=line_of(root, loc), field=dotted(loc)) from exc
