"""cost: the cheapest capable model whose estimated cost fits the request's ``max_cost``.

Estimated cost = prompt tokens × input price + expected output tokens × output price, where
the expected output is the request's ``max_tokens`` or the configured default. A minimum
catalog ``quality`` per task keeps the cheapest model from being one that cannot do the job.
Nothing affordable is an error, never a silent expensive call.
"""

from __future__ import annotations

import numpy as np

from core.errors import RoutingError
from models.registry import ModelEntry
from routers.config import CostConfig
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["CostPolicy", "estimate_cost"]


def estimate_cost(entry: ModelEntry, prompt_tokens: int, output_tokens: int) -> float:
    """USD for one call with these token counts at the model's catalog prices."""
    return entry.spec.cost.of(prompt_tokens, output_tokens)


class CostPolicy:
    name = "cost"

    def __init__(self, config: CostConfig, keep: int = 8):
        self.config = config
        self.keep = keep
        """How many affordable models to pass on (the pick plus fallbacks)."""
        self._cached: tuple[list[ModelEntry], np.ndarray, np.ndarray] | None = None

    def _table(self, candidates: list[ModelEntry]) -> tuple[np.ndarray, np.ndarray]:
        """Price matrix (input, output per 1K) and quality vector, cached per candidate list."""
        if self._cached is None or self._cached[0] is not candidates:
            prices = np.array(
                [(e.spec.cost.input_per_1k, e.spec.cost.output_per_1k) for e in candidates], dtype=float
            ).reshape(-1, 2)
            quality = np.array([e.spec.quality for e in candidates], dtype=float)
            self._cached = (candidates, prices, quality)
        return self._cached[1], self._cached[2]

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        if request.max_cost is None or request.explicit_model:
            return candidates
        prompt = request.prompt_tokens()
        output = int(request.params.get("max_tokens") or self.config.expected_output_tokens)
        floor = self.config.min_quality.get(record.task or "", 0)
        prices, quality = self._table(candidates)
        costs = prices @ np.array([prompt / 1000, output / 1000])
        capable = quality >= floor
        if not capable.any():
            raise RoutingError(f"no model reaches the minimum quality {floor} for task '{record.task}'")
        fits = np.flatnonzero(capable & (costs <= request.max_cost))
        if fits.size == 0:
            cheapest = int(np.flatnonzero(capable)[np.argmin(costs[capable])])
            raise RoutingError(
                f"no model fits max_cost ${request.max_cost:g}: the cheapest capable one, "
                f"{candidates[cheapest].spec.name}, needs ~${costs[cheapest]:.6f} for "
                f"~{prompt}+{output} tokens"
            )
        order = fits[np.lexsort((-quality[fits], costs[fits]))][: self.keep]  # cheapest, then best
        affordable = [(float(costs[i]), candidates[i]) for i in order]
        cost, best = affordable[0]
        floor_note = f", quality ≥ {floor}" if floor else ""
        record.note(self.name, f"cheapest under ${request.max_cost:g}{floor_note} → {best.spec.name} (~${cost:.6f})")
        return [e for _, e in affordable]
