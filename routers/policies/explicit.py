"""explicit: a model named in the request wins when it is available."""

from __future__ import annotations

from collections.abc import Callable

from core.errors import RoutingError
from models.registry import ModelEntry
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["ExplicitPolicy"]


class ExplicitPolicy:
    name = "explicit"

    def __init__(self, all_entries: Callable[[], list[ModelEntry]]):
        self._all_entries = all_entries  # every model, available or not, for the error message

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        wanted = request.explicit_model
        if wanted is None:
            return candidates
        for entry in candidates:
            if entry.spec.name == wanted:
                record.note(self.name, f"model {wanted} requested")
                return [entry]
        available = ", ".join(e.spec.name for e in candidates) or "none"
        known = {e.spec.name: e for e in self._all_entries()}
        if wanted in known:
            reason = known[wanted].availability.reason or "not usable for this request"
            raise RoutingError(
                f"model '{wanted}' is unavailable ({reason}); available: {available}",
                available=[e.spec.name for e in candidates],
            )
        raise RoutingError(
            f"unknown model '{wanted}'; available: {available}", available=[e.spec.name for e in candidates]
        )
