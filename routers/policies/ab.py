"""ab: requests in an active experiment go to their (sticky) arm's model."""

from __future__ import annotations

from models.registry import ModelEntry
from routers.experiments import Experiments, assign_arm
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["ABPolicy"]


class ABPolicy:
    name = "ab"

    def __init__(self, experiments: Experiments):
        self.experiments = experiments
        self._index: tuple[list[ModelEntry], dict[str, ModelEntry]] | None = None

    def _by_name(self, candidates: list[ModelEntry]) -> dict[str, ModelEntry]:
        """Name → entry, cached for the router's snapshot list (the common, hot case)."""
        if self._index is None or self._index[0] is not candidates:
            self._index = (candidates, {e.spec.name: e for e in candidates})
        return self._index[1]

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        if request.explicit_model:
            return candidates
        experiment = self.experiments.get(request.experiment) if request.experiment else self.experiments.default()
        if experiment is None:
            return candidates
        status = self.experiments.status(experiment.name)
        if status != "active":
            record.note(self.name, f"experiment {experiment.name} is {status}")
            return candidates
        arm = assign_arm(experiment, request.user)
        record.experiment, record.arm = experiment.name, arm.name
        chosen = self._by_name(candidates).get(arm.model)
        if chosen is None:
            record.note(self.name, f"experiment {experiment.name}: arm {arm.name} ({arm.model}) unavailable")
            return candidates
        sticky = "sticky for user" if request.user else "random"
        record.note(self.name, f"experiment {experiment.name} → arm {arm.name} ({arm.model}, {sticky})")
        return [chosen]  # the arm is the experiment; its fallbacks come from config/routing.yaml
