"""The policy protocol."""

from __future__ import annotations

from typing import Protocol

from models.registry import ModelEntry
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["Policy"]


class Policy(Protocol):
    """Decides; never calls a model. Raises RoutingError when nothing can serve the request."""

    name: str

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        """The candidates that remain, best first; ``record.note(...)`` says why."""
        ...
