"""Canonical call parameters → a provider's own names, with defaults and range checks.

Callers always say ``temperature`` and ``max_tokens``; a catalog entry may declare that its
provider calls temperature ``creative_level``. Unknown or out-of-range values raise a
:class:`~core.errors.ParameterError` that says what is allowed.

Example:
    >>> from models.spec import ModelSpec
    >>> spec = ModelSpec(name="m", provider="openai",
    ...     deployments=[{"base_url": "http://x/v1"}],
    ...     params={"temperature": {"type": "float", "default": 0.7, "min": 0, "max": 2,
    ...                             "provider_name": "creative_level"}})
    >>> resolve_params(spec, {"temperature": 0.2})
    {'creative_level': 0.2}
"""

from __future__ import annotations

from typing import Any

from core.errors import ParameterError
from models.spec import ModelSpec, ParamSpec

__all__ = ["canonical_values", "provider_names", "resolve_params"]

_CASTS = {"float": float, "int": int, "bool": bool, "str": str}


def canonical_values(spec: ModelSpec, given: dict[str, Any] | None) -> dict[str, Any]:
    """Validated values by canonical name, defaults filled in; ``None`` values are dropped."""
    given = {k: v for k, v in (given or {}).items() if v is not None}
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        accepted = ", ".join(sorted(spec.params)) or "none"
        raise ParameterError(
            f"model '{spec.name}' does not accept {', '.join(unknown)}; accepted: {accepted}", param=unknown[0]
        )
    values: dict[str, Any] = {}
    for name, pspec in spec.params.items():
        value = given.get(name, pspec.default)
        if value is not None:
            values[name] = _checked(spec.name, name, pspec, value)
    return values


def provider_names(spec: ModelSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Re-key canonical values by the provider's own parameter names."""
    return {
        (spec.params[name].provider_name or name) if name in spec.params else name: value
        for name, value in values.items()
    }


def resolve_params(spec: ModelSpec, given: dict[str, Any] | None) -> dict[str, Any]:
    """Validated values keyed by the provider's own parameter names."""
    return provider_names(spec, canonical_values(spec, given))


def _checked(model: str, name: str, pspec: ParamSpec, value: Any) -> Any:
    try:
        if pspec.type == "bool" and isinstance(value, str):
            raise ValueError
        if pspec.type in ("int", "float") and isinstance(value, bool):
            raise ValueError
        value = _CASTS[pspec.type](value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} is not a {pspec.type} (model '{model}')", param=name) from None
    if pspec.type in ("int", "float"):
        low = pspec.min if pspec.min is not None else float("-inf")
        high = pspec.max if pspec.max is not None else float("inf")
        if not low <= value <= high:
            raise ParameterError(
                f"{name}={value} is outside the allowed range "
                f"[{_fmt(pspec.min)}, {_fmt(pspec.max)}] for model '{model}'",
                param=name,
            )
    return value


def _fmt(bound: float | None) -> str:
    return "-" if bound is None else f"{bound:g}"
