"""task: classify the prompt (or take the ``task`` hint) and prefer models good at that task."""

from __future__ import annotations

from typing import Any

from models.registry import ModelEntry
from routers.record import RouteRecord
from routers.request import RouteRequest

__all__ = ["TaskPolicy"]


class TaskPolicy:
    name = "task"

    def __init__(self, classifier: Any):
        """``classifier.classify(text)`` returns an object with ``task``, ``score`` and ``reason``."""
        self.classifier = classifier

    def apply(self, request: RouteRequest, candidates: list[ModelEntry], record: RouteRecord) -> list[ModelEntry]:
        if request.explicit_model and not request.task:  # the caller chose: nothing to classify for
            record.note(self.name, "")
            return candidates
        if request.task:
            record.task, how = request.task, "task given"
        else:
            decision = self.classifier.classify(request.text)
            record.task = decision.task
            how = f"classified ({decision.reason})" if decision.task else "no task matched → default route"
        if not record.task:
            record.note(self.name, how)
            return candidates
        if request.explicit_model:
            record.note(self.name, f"{record.task} task ({how})")
            return candidates
        capable = [e for e in candidates if record.task in e.spec.tasks]
        if not capable:
            record.note(self.name, f"{record.task} task ({how}); no model is tagged for it, keeping all")
            return candidates
        capable.sort(key=lambda e: -e.spec.quality)
        record.note(
            self.name,
            f"{record.task} task ({how}) → {record.task}-capable models "
            f"({', '.join(e.spec.name for e in capable[:3])}{'…' if len(capable) > 3 else ''})",
        )
        return capable
