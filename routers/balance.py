"""Ordering a model's deployments: round_robin, weighted, least_busy or latency.

The balancer returns every online deployment, best first, with cooled-down ones removed; the
dispatcher tries them in that order (the rest are fallbacks within the model).
"""

from __future__ import annotations

import itertools
import random
import threading
from typing import Literal

from models.spec import Deployment
from routers.health import HealthTracker

__all__ = ["Balancer", "Strategy"]

Strategy = Literal["round_robin", "weighted", "least_busy", "latency"]


class Balancer:
    """Chooses the order in which a model's deployments are tried."""

    def __init__(self, health: HealthTracker, strategy: Strategy = "round_robin", seed: int | None = None):
        self.health = health
        self.strategy = strategy
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def order(self, model: str, deployments: list[Deployment]) -> tuple[list[Deployment], list[str]]:
        """``(usable deployments best first, names skipped because they are cooling down)``."""
        usable, skipped = [], []
        for dep in deployments:
            if self.health.cooling(model, dep.name):
                skipped.append(dep.name)
            else:
                usable.append(dep)
        if len(usable) <= 1:
            return usable, skipped
        return getattr(self, f"_{self.strategy}")(model, usable), skipped

    def _round_robin(self, model: str, deps: list[Deployment]) -> list[Deployment]:
        with self._lock:
            counter = self._counters.setdefault(model, itertools.count())
            start = next(counter) % len(deps)
        return deps[start:] + deps[:start]

    def _weighted(self, model: str, deps: list[Deployment]) -> list[Deployment]:
        first = self._random.choices(deps, weights=[d.weight for d in deps])[0]
        return [first] + [d for d in deps if d is not first]

    def _least_busy(self, model: str, deps: list[Deployment]) -> list[Deployment]:
        rotated = self._round_robin(model, deps)  # ties go round-robin
        return sorted(rotated, key=lambda d: self.health.in_flight(model, d.name))

    def _latency(self, model: str, deps: list[Deployment]) -> list[Deployment]:
        unknown_first = [d for d in deps if self.health.latency(model, d.name) is None]
        known = sorted(
            (d for d in deps if d not in unknown_first), key=lambda d: self.health.latency(model, d.name) or 0.0
        )
        return unknown_first + known
