"""What the Settings page shows, without Streamlit: which secrets are set (names only, never
values), the routing configuration and the moderation policies as plain rows.

Example:
    >>> rows = key_rows(Registry().entries())                       # doctest: +SKIP
    >>> [r for r in rows if r["variable"] == "OPENAI_API_KEY"][0]["set"]  # doctest: +SKIP
    False
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from chains.moderation.policy import ModerationConfig
from models.registry import ModelEntry
from routers.config import RoutingConfig

__all__ = ["KNOWN_VARIABLES", "key_rows", "moderation_rows", "routing_rows"]

KNOWN_VARIABLES = {
    "OPENAI_API_KEY": "OpenAI models (gpt-4o-mini, dall-e-3)",
    "HF_TOKEN": "Hugging Face Inference endpoints",
    "MODELYARD_MASTER_KEY": "the gateway's admin API (registry, usage); required off loopback",
    "DATABASE_URL": "every store (keys, registry, A/B, services, request log) in one database, not data/*.sqlite",
    "CHROMA_HOST": "a Chroma server for the knowledge base instead of data/chroma",
}
"""Secrets and connection settings Modelyard reads, and what for."""


def key_rows(entries: Sequence[ModelEntry], env: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every known variable plus each deployment's ``api_key_env``: set or not, and who uses it.

    Only the variable's *name* and whether it is non-empty leave this function.
    """
    env = os.environ if env is None else env
    users: dict[str, list[str]] = {name: [] for name in KNOWN_VARIABLES}
    for entry in entries:
        for dep in entry.spec.deployments:
            if dep.api_key_env:
                users.setdefault(dep.api_key_env, [])
                if entry.spec.name not in users[dep.api_key_env]:
                    users[dep.api_key_env].append(entry.spec.name)
    return [
        {
            "variable": name,
            "set": bool(env.get(name)),
            "used by": ", ".join(models) or "–",
            "purpose": KNOWN_VARIABLES.get(name, "model API key"),
        }
        for name, models in users.items()
    ]


def routing_rows(config: RoutingConfig) -> list[dict[str, str]]:
    """The default routing policy as (setting, value) rows."""
    fallbacks = "; ".join(f"{model} → {', '.join(targets)}" for model, targets in config.fallbacks.by_model.items())
    rows = [
        ("policies, in order", " → ".join(config.policies)),
        ("default model", config.default_model or "–"),
        ("balancing", config.balance),
        (
            "health",
            f"cool down after {config.health.failure_threshold} failures for {config.health.cooldown_seconds:g} s",
        ),
        ("fallbacks by model", fallbacks or "–"),
        ("default fallbacks", ", ".join(config.fallbacks.default) or "–"),
        ("other candidates tried", str(config.max_fallback_models)),
        ("timeout per request", f"{config.timeout_seconds:g} s"),
        ("cost: expected output tokens", str(config.cost.expected_output_tokens)),
        ("cost: minimum quality per task", ", ".join(f"{t} ≥ {q}" for t, q in config.cost.min_quality.items()) or "–"),
    ]
    rows += [
        (f"experiment {e.name}", f"{e.status}; " + ", ".join(f"{a.name} → {a.model} ({a.weight:g})" for a in e.arms))
        for e in config.experiments
    ]
    return [{"setting": key, "value": value} for key, value in rows]


def moderation_rows(config: ModerationConfig) -> list[dict[str, Any]]:
    """One row per moderation policy: what it blocks, masks and flags, and how PII is handled."""
    rows = []
    for name, policy in config.policies.items():
        by_action: dict[str, list[str]] = {"block": [], "mask": [], "flag": []}
        for category, action in sorted(policy.categories.items()):
            by_action.setdefault(action, []).append(category)
        pii = ", ".join(policy.pii.detected_types()) if policy.pii.mask else "not masked"
        judge = ", ".join(stage for stage in ("input", "output") if getattr(policy.judge, stage)) or "off"
        rows.append(
            {
                "policy": name,
                "description": policy.description,
                "block": ", ".join(by_action["block"]),
                "mask": ", ".join(by_action["mask"]),
                "flag": ", ".join(by_action["flag"]),
                "other categories": policy.default_action,
                "PII masked": pii,
                "judge": judge,
                "on block": policy.on_block,
            }
        )
    return rows
