"""What one call of a catalog model needs: the entry, the deployment, its parameters, the deadline.

Built by the attempt engine (:mod:`routers.dispatch`) for each attempt and handed to a transport
(the LangChain chat models, or :mod:`models.adapters.openai_http`).

Example:
    >>> import time
    >>> from models.registry import Registry
    >>> entry = Registry().entries()[0]
    >>> target = Target(entry, entry.spec.deployments[0].name, {}, time.monotonic() + 5)
    >>> 0 < target.remaining() <= 5
    True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from models.registry import ModelEntry

__all__ = ["ModelEntry", "Target"]


@dataclass(frozen=True)
class Target:
    """One attempt's model, deployment, canonical parameters and the request's deadline."""

    entry: ModelEntry
    deployment: str
    params: dict[str, Any]
    """Canonical call parameters this model accepts (``RouteRequest.params_for``)."""
    deadline: float
    """``time.monotonic()`` at which the request's budget ends."""
    options: dict[str, Any] = field(default_factory=dict)
    """OpenAI-shaped call options (tools, response_format, stop, ...): the chat model's call kwargs."""

    @property
    def model(self) -> str:
        return self.entry.spec.name

    def remaining(self) -> float:
        """Seconds left of the request's budget (at least 1 ms)."""
        return max(0.001, self.deadline - time.monotonic())
