"""Whether a model (or one of its deployments) can be called right now, and why not.

An enabled hosted model whose key variable is unset is *unavailable, with the reason* — it is
listed, never a crash. Local models are unavailable when their weights package is missing.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from models.providers import PROVIDERS
from models.spec import Deployment, LocalSource, ModelSpec

__all__ = ["Availability", "deployment_availability", "local_weights_path", "model_availability"]


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str = ""


def local_weights_path(source: LocalSource) -> Path | None:
    """The weights file of a local model, or ``None`` if its package is not installed."""
    if not source.package:
        path = Path(source.file).expanduser()
        return path if path.exists() else None
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / source.file
        if candidate.exists():
            return candidate
    return None


def deployment_availability(
    spec: ModelSpec, deployment: Deployment, env: Mapping[str, str] | None = None
) -> Availability:
    """Can this deployment be called? ``env`` defaults to the process environment."""
    env = os.environ if env is None else env
    if spec.is_local:
        assert spec.source is not None
        if local_weights_path(spec.source) is None:
            where = f"package '{spec.source.package}'" if spec.source.package else "path"
            return Availability(False, f"weights {spec.source.file} not found ({where}); run `make run` to install")
        return Availability(True)
    if deployment.api_key_env and not env.get(deployment.api_key_env):
        return Availability(False, f"{deployment.api_key_env} is not set")
    check = PROVIDERS[spec.provider].unavailable
    reason = check(spec) if check is not None else None
    return Availability(False, reason) if reason else Availability(True)


def model_availability(
    spec: ModelSpec, offline: set[tuple[str, str]] | None = None, env: Mapping[str, str] | None = None
) -> Availability:
    """A model is available when it is enabled and at least one deployment is.

    ``offline`` holds ``(model, deployment)`` pairs taken offline in the registry.
    """
    if not spec.enabled:
        return Availability(False, "disabled in the catalog (enabled: false)")
    offline = offline or set()
    reasons = []
    for dep in spec.deployments:
        if (spec.name, dep.name) in offline:
            reasons.append(f"{dep.name}: taken offline")
            continue
        state = deployment_availability(spec, dep, env)
        if state.available:
            return Availability(True)
        reasons.append(f"{dep.name}: {state.reason}" if len(spec.deployments) > 1 else state.reason)
    return Availability(False, "; ".join(reasons))
