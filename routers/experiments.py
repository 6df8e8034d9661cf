"""A/B experiments: weighted arms, sticky assignment, per-arm statistics and feedback.

Assignment is sticky per ``user``: a SHA-256 of ``experiment:user`` picks a point in [0, 1)
that falls in one arm's share, so the same user always lands in the same arm while the split
over many users follows the weights. Without a user the point is random. Per-arm counts,
latency, tokens, cost, errors and thumbs up/down are stored in SQLite
(``data/experiments.sqlite``); an experiment can be paused or ended at run time.
"""

from __future__ import annotations

import hashlib
import random
import time
from pathlib import Path
from typing import Any

from core.errors import RoutingError
from core.settings import data_dir
from routers.config import ArmConfig, ExperimentConfig
from store.experiments_db import ExperimentsDB

__all__ = ["Experiments", "assign_arm"]

STATUS_REFRESH_SECONDS = 0.5


def assign_arm(experiment: ExperimentConfig, user: str | None, rng: random.Random | None = None) -> ArmConfig:
    """The arm for ``user`` (stable) or a random one when there is no user."""
    if user:
        digest = hashlib.sha256(f"{experiment.name}:{user}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
    else:
        point = (rng or random).random()
    total = sum(arm.weight for arm in experiment.arms)
    edge = 0.0
    for arm in experiment.arms:
        edge += arm.weight / total
        if point < edge:
            return arm
    return experiment.arms[-1]


class Experiments:
    """The configured experiments plus their runtime status and statistics."""

    def __init__(self, configs: list[ExperimentConfig], db_path: Path | None = None):
        self.configs = {e.name: e for e in configs}
        self.db = ExperimentsDB(db_path or data_dir() / "experiments.sqlite")
        self._status: dict[str, tuple[str, float]] = {}

    def get(self, name: str) -> ExperimentConfig:
        try:
            return self.configs[name]
        except KeyError:
            configured = ", ".join(self.configs) or "none"
            raise RoutingError(f"unknown experiment '{name}'; configured: {configured}") from None

    def status(self, name: str) -> str:
        """Runtime status (pause/end) or the configured one; re-read at most every 0.5 s."""
        cached = self._status.get(name)
        now = time.monotonic()
        if cached is None or now - cached[1] > STATUS_REFRESH_SECONDS:
            cached = (self.db.status(name) or self.get(name).status, now)
            self._status[name] = cached
        return cached[0]

    def _set_status(self, name: str, status: str) -> None:
        self.get(name)
        self.db.set_status(name, status)
        self._status[name] = (status, time.monotonic())

    def default(self) -> ExperimentConfig | None:
        return next((e for e in self.configs.values() if e.default), None)

    def pause(self, name: str) -> None:
        self._set_status(name, "paused")

    def resume(self, name: str) -> None:
        self._set_status(name, "active")

    def end(self, name: str) -> None:
        self._set_status(name, "ended")

    def record(
        self,
        request_id: str,
        experiment: str,
        arm: str,
        latency: float,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost: float = 0.0,
        error: str = "",
    ) -> None:
        self.db.add_event(request_id, experiment, arm, latency, input_tokens, output_tokens, cost, error)

    def feedback(self, request_id: str, thumbs_up: bool) -> bool:
        """Record a thumbs up/down for a routed request; ``False`` if it was in no experiment."""
        return self.db.add_feedback(request_id, 1 if thumbs_up else -1)

    def summary(self, name: str) -> list[dict[str, Any]]:
        """Per-arm requests, errors, mean latency, tokens, cost, thumbs up/down."""
        self.get(name)
        return self.db.summary(name)

    def latencies(self, name: str) -> dict[str, list[float]]:
        """Per-arm latencies (seconds) of the successful requests, e.g. for Welch's t-test."""
        self.get(name)
        return self.db.latencies(name)
