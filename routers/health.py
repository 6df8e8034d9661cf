"""Deployment health: failures, cooldowns, in-flight counts and latency, per deployment.

Connect errors, timeouts, 429 and 5xx count against a deployment (``ProviderError
.counts_against_health``). After ``failure_threshold`` consecutive failures it cools down for
``cooldown_seconds`` — longer if the provider sent ``Retry-After``. When the cooldown ends the
deployment is *half-open*: one request at a time may probe it; a success closes the circuit,
a failure cools it down again at once.

With ``REDIS_URL`` the gateway shares the part that decides (failures, cooldowns, the probe) with
its other replicas: :meth:`HealthTracker.share` attaches a board
(:class:`~routers.health_redis.RedisHealthBoard`) that hears every replica's changes and reports
this one's; in-flight counts and latency stay per replica.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel

__all__ = ["DeploymentHealth", "HealthBoard", "HealthConfig", "HealthTracker", "SharedState"]

Key = tuple[str, str]


class HealthConfig(BaseModel):
    failure_threshold: int = 3
    """Consecutive failures that cool a deployment down."""
    cooldown_seconds: float = 30.0
    """How long a cooled-down deployment is skipped (Retry-After wins when longer)."""
    latency_alpha: float = 0.2
    """Weight of the newest sample in the latency moving average."""


@dataclass(frozen=True)
class SharedState:
    """A deployment's shared record as a board heard it; times are seconds from now (``None``: unset)."""

    model: str
    deployment: str
    failures: int
    cooldown_in: float | None
    """Until the cooldown ends (negative: it ended, the deployment is half-open)."""
    probe_in: float | None
    """Until another replica's probe lease ends."""


class HealthBoard(Protocol):
    """Where replicas share failures, cooldowns and the half-open probe (see the module docstring)."""

    def attach(self, apply: Callable[[SharedState], None], config: HealthConfig) -> None: ...
    def failed(self, model: str, deployment: str, retry_after: float | None, probe: bool) -> None: ...
    def closed(self, model: str, deployment: str) -> None: ...
    def probe_ended(self, model: str, deployment: str) -> None: ...
    def claim_probe(self, model: str, deployment: str) -> SharedState | None: ...
    def close(self) -> None: ...


@dataclass
class DeploymentHealth:
    failures: int = 0
    cooldown_until: float = 0.0
    probing: bool = False
    """This process holds the half-open probe."""
    probed_elsewhere_until: float = 0.0
    """Another replica holds the probe until then (shared health only)."""
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
        self.board: HealthBoard | None = None

    def share(self, board: HealthBoard) -> None:
        """Decide with the other replicas from now on: ``board`` brings their changes in and takes
        this tracker's failures, recoveries and probes out."""
        self.board = board
        board.attach(self._apply, self.config)

    def _apply(self, shared: SharedState) -> None:
        with self._lock:
            self._place(self._get((shared.model, shared.deployment)), shared)

    def _place(self, state: DeploymentHealth, shared: SharedState) -> None:
        now = self._clock()
        state.failures = shared.failures
        state.cooldown_until = 0.0 if shared.cooldown_in is None else now + shared.cooldown_in
        if not state.probing:
            state.probed_elsewhere_until = 0.0 if shared.probe_in is None else now + shared.probe_in

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
        now = self._clock()
        if state.cooldown_until > now:
            return True
        return state.probing or state.probed_elsewhere_until > now

    def acquire(self, model: str, deployment: str) -> bool:
        """Start a call. ``False`` if the deployment must be skipped (cooling, or probe taken)."""
        with self._lock:
            state = self._get((model, deployment))
            now = self._clock()
            if state.cooldown_until > now:
                return False
            probe = bool(state.cooldown_until)
            if probe:  # cooldown over: half-open, one probe at a time (cluster-wide with a board)
                if state.probing or state.probed_elsewhere_until > now:
                    return False
                state.probing = True
            state.in_flight += 1
        if not probe or self.board is None:
            return True
        heard = self.board.claim_probe(model, deployment)  # one round-trip, once per cooldown
        if heard is None:
            return True
        with self._lock:
            state.probing = False
            self._place(state, heard)
            if state.cooldown_until:  # another replica probes it, or it cooled down again
                state.in_flight -= 1
                return False
            return True  # closed meanwhile by another replica's success: an ordinary call

    def success(self, model: str, deployment: str, latency: float) -> None:
        with self._lock:
            state = self._get((model, deployment))
            recovered = bool(state.failures or state.cooldown_until or state.probing)
            state.in_flight -= 1
            state.failures, state.cooldown_until, state.probing = 0, 0.0, False
            state.total_successes += 1
            alpha = self.config.latency_alpha
            state.latency_ewma = (
                latency if state.latency_ewma is None else (alpha * latency + (1 - alpha) * state.latency_ewma)
            )
        if recovered and self.board is not None:
            self.board.closed(model, deployment)

    def failure(
        self, model: str, deployment: str, error: str, counts: bool = True, retry_after: float | None = None
    ) -> None:
        with self._lock:
            state = self._get((model, deployment))
            probe, state.probing = state.probing, False
            state.in_flight -= 1
            state.last_error = error
            if counts:
                state.total_failures += 1
                state.failures += 1
                if probe or state.failures >= self.config.failure_threshold or retry_after:
                    wait = max(self.config.cooldown_seconds, retry_after or 0.0)
                    state.cooldown_until = self._clock() + wait
        if self.board is not None:
            if counts:
                self.board.failed(model, deployment, retry_after, probe)
            elif probe:
                self.board.probe_ended(model, deployment)

    def release(self, model: str, deployment: str) -> None:
        """End a call that neither succeeded nor failed (cancelled)."""
        with self._lock:
            state = self._get((model, deployment))
            probe, state.probing = state.probing, False
            state.in_flight -= 1
        if probe and self.board is not None:
            self.board.probe_ended(model, deployment)

    def snapshot(self) -> dict[Key, DeploymentHealth]:
        """A copy of every deployment's state (for the UI and metrics)."""
        with self._lock:
            return {k: DeploymentHealth(**vars(v)) for k, v in self._state.items()}

    def close(self) -> None:
        """Let go of the board, if any."""
        if self.board is not None:
            self.board.close()

    def in_flight(self, model: str, deployment: str) -> int:
        state = self._state.get((model, deployment))
        return state.in_flight if state else 0

    def latency(self, model: str, deployment: str) -> float | None:
        state = self._state.get((model, deployment))
        return state.latency_ewma if state else None
