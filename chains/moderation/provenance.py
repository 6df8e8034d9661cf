"""Provenance metadata: every answer says it is AI-generated, by which model, and when.

The model is read, in order, from the router's ``response_metadata["route"]``, the catalog
adapter's ``response_metadata["modelyard_model"]``, the runnable's ``metadata["modelyard"]``,
and the provider's own ``model_name``. The UI shows ``label`` next to the answer.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> record = provenance(AIMessage("hi", response_metadata={"model_name": "fake-gpt"}), None)
    >>> record["ai_generated"], record["model"], record["label"]
    (True, 'fake-gpt', 'AI-generated · fake-gpt')
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from langchain_core.runnables import Runnable, RunnableBinding

__all__ = ["catalog_identity", "moderation_notice", "provenance"]


def catalog_identity(runnable: Runnable | None) -> dict[str, Any]:
    """``metadata["modelyard"]`` of a chat model or a bound runnable (``{}`` when absent)."""
    if isinstance(runnable, RunnableBinding):
        found = ((runnable.config or {}).get("metadata") or {}).get("modelyard")
        return found if isinstance(found, dict) else catalog_identity(runnable.bound)
    metadata = getattr(runnable, "metadata", None)
    identity = metadata.get("modelyard") if isinstance(metadata, dict) else None
    return identity if isinstance(identity, dict) else {}


def provenance(message: Any, model_runnable: Runnable | None) -> dict[str, Any]:
    """The provenance record of a model's answer."""
    response = getattr(message, "response_metadata", None) or {}
    found = response.get("route")
    route: dict[str, Any] = found if isinstance(found, dict) else {}
    identity = catalog_identity(model_runnable)
    model = (
        route.get("model")
        or response.get("modelyard_model")
        or identity.get("model")
        or response.get("model_name")
        or response.get("model")
        or getattr(model_runnable, "model_name", None)
        or "unknown"
    )
    return {
        "ai_generated": True,
        "model": model,
        "provider": route.get("provider") or response.get("provider") or identity.get("provider"),
        "deployment": route.get("deployment") or response.get("deployment") or identity.get("deployment"),
        "generated_at": _now(),
        "label": f"AI-generated · {model}",
    }


def moderation_notice(policy: str) -> dict[str, Any]:
    """Provenance of a refusal written by moderation itself (no model was called)."""
    return {
        "ai_generated": False,
        "model": None,
        "provider": None,
        "deployment": None,
        "generated_at": _now(),
        "generated_by": f"moderation policy '{policy}'",
        "label": "Moderation notice",
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
