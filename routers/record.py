"""The route record: which model answered, and why, in words a person can read.

It travels on every answer as ``response_metadata["route"]`` (see :meth:`RouteRecord.as_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AttemptRecord", "RouteRecord"]


@dataclass
class AttemptRecord:
    model: str
    deployment: str
    error: str = ""
    ok: bool = False


@dataclass
class RouteRecord:
    """Built by the policies (``note``) and the dispatcher (``attempts``)."""

    policies: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    task: str | None = None
    arm: str | None = None
    experiment: str | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    model: str = ""
    deployment: str = ""

    def note(self, policy: str, reason: str) -> None:
        self.policies.append(policy)
        if reason:
            self.reasons.append(reason)

    @property
    def reason(self) -> str:
        tail = []
        if self.model:
            tail.append(f"answered by {self.model}/{self.deployment}")
        failed = [a for a in self.attempts if not a.ok]
        if failed:
            tail.append("after " + ", ".join(f"{a.model}/{a.deployment} failed ({a.error})" for a in failed))
        return "; ".join(self.reasons + tail)

    @property
    def fallbacks_tried(self) -> list[str]:
        return [f"{a.model}/{a.deployment}" for a in self.attempts[1:]]

    def as_dict(self) -> dict[str, Any]:
        # built by hand: dataclasses.asdict deep-copies every field, a measurable cost per request
        return {
            "policies": list(self.policies),
            "reasons": list(self.reasons),
            "candidates": list(self.candidates),
            "task": self.task,
            "arm": self.arm,
            "experiment": self.experiment,
            "attempts": [
                {"model": a.model, "deployment": a.deployment, "error": a.error, "ok": a.ok} for a in self.attempts
            ],
            "model": self.model,
            "deployment": self.deployment,
            "reason": self.reason,
            "fallbacks_tried": self.fallbacks_tried,
        }
