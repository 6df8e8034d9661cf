"""Deployment health: failures, cooldowns, in-flight counts and latency, per deployment.

Connect errors, timeouts, 429 and 5xx count against a deployment (``ProviderError
.counts_against_health``). After ``failure_threshold`` consecutive failures it cools down for
``cooldown_seconds`` — longer if the provider sent ``Retry-After``. When the cooldown ends the
deployment is *half-open*: one request at a time may probe it; a success closes the circuit,
a failure cools it down again at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

__all__ = ["DeploymentHealth", "HealthConfig", "HealthTracker"]

Key = tuple[str, str]


class HealthConfig(BaseModel):
    failure_threshold: int = 3
    """Consecutive failures that cool a deployment down."""
    cooldown_seconds: float = 30.0
    """How long a cooled-down deployment is skipped (Retry-After wins when longer)."""
    latency_alpha: float = 0.2
    """Weight of the newest sample in the latency moving average."""


@dataclass
class DeploymentHealth:
    failures: int = 0
    cooldown_until: float = 0.0
    probing: bool = False
    in_flight: int = 0
    latency_ewma: float | None = None
    total_failures: int = 0
    total_successes: int = 0
    last_error: str = ""


class HealthTracker:
    """Thread-safe health of every deployment the router has called."""

    def __init__(self, config: HealthConfig | None = None, clock: Callable[[], float] = time.monotonic):
        self.config = config or HealthConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[Key, DeploymentHealth] = {}

    def _get(self, key: Key) -> DeploymentHealth:
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = DeploymentHealth()
        return state

    def cooling(self, model: str, deployment: str) -> bool:
        """Is it in cooldown now (or being probed by another request)?"""
        state = self._state.get((model, deployment))
        if state is None:
            return False
        if state.cooldown_until > self._clock():
            return True
        return state.probing

    def acquire(self, model: str, deployment: str) -> bool:
        """Start a call. ``False`` if the deployment must be skipped (cooling, or probe taken)."""
        with self._lock:
            state = self._get((model, deployment))
            if state.cooldown_until > self._clock():
                return False
            if state.cooldown_until:  # cooldown over: half-open, one probe at a time
                if state.probing:
                    return False
                state.probing = True
            state.in_flight += 1
            return True

    def success(self, model: str, deployment: str, latency: float) -> None:
        with self._lock:
            state = self._get((model, deployment))
            state.in_flight -= 1
            state.failures, state.cooldown_until, state.probing = 0, 0.0, False
            state.total_successes += 1
            alpha = self.config.latency_alpha
            state.latency_ewma = (
                latency if state.latency_ewma is None else (alpha * latency + (1 - alpha) * state.latency_ewma)
            )

    def failure(
        self, model: str, deployment: str, error: str, counts: bool = True, retry_after: float | None = None
    ) -> None:
        with self._lock:
            state = self._get((model, deployment))
            state.in_flight -= 1
            state.last_error = error
            if not counts:
                state.probing = False
                return
            state.total_failures += 1
            state.failures += 1
            if state.probing or state.failures >= self.config.failure_threshold or retry_after:
                wait = max(self.config.cooldown_seconds, retry_after or 0.0)
                state.cooldown_until = self._clock() + wait
            state.probing = False

    def release(self, model: str, deployment: str) -> None:
        """End a call that neither succeeded nor failed (cancelled)."""
        with self._lock:
            state = self._get((model, deployment))
            state.in_flight -= 1
            state.probing = False

    def snapshot(self) -> dict[Key, DeploymentHealth]:
        """A copy of every deployment's state (for the UI and metrics)."""
        with self._lock:
            return {k: DeploymentHealth(**vars(v)) for k, v in self._state.items()}

    def in_flight(self, model: str, deployment: str) -> int:
        state = self._state.get((model, deployment))
        return state.in_flight if state else 0

    def latency(self, model: str, deployment: str) -> float | None:
        state = self._state.get((model, deployment))
        return state.latency_ewma if state else None
