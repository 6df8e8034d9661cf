"""context_window: a prompt longer than a model's window goes to a larger model, before the call."""

from __future__ import annotations

from core.errors import RoutingError
from models.registry import ModelEntry
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["ContextWindowPolicy"]


class ContextWindowPolicy:
    name = "context_window"

    def __init__(self, expected_output_tokens: int):
        self.expected_output_tokens = expected_output_tokens
        self._smallest: tuple[list[ModelEntry], int] | None = None

    def _smallest_window(self, candidates: list[ModelEntry]) -> int:
        if self._smallest is None or self._smallest[0] is not candidates:
            self._smallest = (candidates, min((e.spec.context_window for e in candidates), default=0))
        return self._smallest[1]

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        needed = request.prompt_tokens() + int(request.params.get("max_tokens") or 0)
        if needed <= self._smallest_window(candidates):  # fast path: every candidate fits
            return candidates
        kept = [e for e in candidates if e.spec.context_window >= needed]
        if len(kept) == len(candidates):
            return candidates
        if not kept:
            largest = max(candidates, key=lambda e: e.spec.context_window, default=None)
            detail = f"; the largest is {largest.spec.name} with {largest.spec.context_window}" if largest else ""
            raise RoutingError(
                f"the prompt needs ~{needed} tokens, more than any available model's context window{detail}"
            )
        dropped = ", ".join(e.spec.name for e in candidates if e not in kept)
        record.note(self.name, f"prompt ~{needed} tokens exceeds the window of {dropped} → larger models")
        return kept
