"""A/B experiments: weighted arms, sticky assignment, per-arm statistics and feedback.

Assignment is sticky per ``user``: a SHA-256 of ``experiment:user`` picks a point in [0, 1)
that falls in one arm's share, so the same user always lands in the same arm while the split
over many users follows the weights. Without a user the point is random. Per-arm counts,
latency, tokens, cost, errors and thumbs up/down are stored (``data/experiments.sqlite``, or
``DATABASE_URL`` for replicas that share them); an experiment can be paused or ended at run time.

Outcome rows are written by one daemon thread, off the request's path: a busy SQLite file never
stalls the gateway's event loop, and a failed write is logged, never turned into an error for an
answer that was already produced. Reads (``feedback``, ``summary``, ``latencies``) first wait for
the rows queued before them. Like the request log, the same thread deletes outcomes (and their
feedback) older than ``retention_days`` — before its first write, then every
``prune_every_seconds`` — so the table cannot grow without bound.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import random
import threading
import time
from pathlib import Path
from typing import Any

from core.errors import RoutingError
from routers.config import ArmConfig, ExperimentConfig
from store.database import store_location
from store.experiments_db import ExperimentsDB
from store.watch import watch

__all__ = ["Experiments", "assign_arm"]

STATUS_REFRESH_SECONDS = 0.5

log = logging.getLogger(__name__)


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
    """The configured experiments plus their runtime status and statistics.

    Args:
        configs: the experiments of ``config/routing.yaml``.
        db_path: a SQLite file or a database URL (default: ``DATABASE_URL``, else ``data/experiments.sqlite``).
        retention_days: outcomes older than this are deleted; ``None`` keeps everything.
        prune_every_seconds: how often the retention is applied.

    Example:
        >>> experiments = Experiments([], tmp_path / "ab.sqlite", retention_days=30)
        >>> experiments.record("r1", "exp", "a", 0.2)
        >>> experiments.flush()
    """

    def __init__(
        self,
        configs: list[ExperimentConfig],
        db_path: Path | str | None = None,
        retention_days: float | None = 90.0,
        prune_every_seconds: float = 3600.0,
    ):
        self.configs = {e.name: e for e in configs}
        self.db = ExperimentsDB(db_path or store_location("experiments.sqlite"))
        self.retention_days, self.prune_every_seconds = retention_days, prune_every_seconds
        self.pruned = 0
        """Outcome rows deleted by the retention so far."""
        self._next_prune = 0.0
        self._status: dict[str, tuple[str, float]] = {}
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=100_000)
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self.closed = False
        watch(self, "reread_statuses", STATUS_REFRESH_SECONDS, "modelyard-ab-watch")

    def get(self, name: str) -> ExperimentConfig:
        try:
            return self.configs[name]
        except KeyError:
            configured = ", ".join(self.configs) or "none"
            raise RoutingError(f"unknown experiment '{name}'; configured: {configured}") from None

    def status(self, name: str) -> str:
        """Runtime status (pause/end) or the configured one; another process's change is re-read by a
        background thread every ``STATUS_REFRESH_SECONDS`` (:func:`store.watch.watch`), so a routed
        request reads memory only (the first ask for an experiment reads the database once)."""
        cached = self._status.get(name)
        if cached is None:
            cached = self._status[name] = (self.db.status(name) or self.get(name).status, time.monotonic())
        return cached[0]

    def reread_statuses(self) -> None:
        """The watcher's tick: every status asked for so far, from the database."""
        for name in list(self._status):
            self._status[name] = (self.db.status(name) or self.get(name).status, time.monotonic())

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
        """Queue one routed request's outcome (written by the background thread; never blocks)."""
        self._start_writer()
        try:
            self._events.put_nowait((request_id, experiment, arm, latency, input_tokens, output_tokens, cost, error))
        except queue.Full:  # serving wins over statistics
            log.warning("A/B outcome of %s dropped: the write queue is full", request_id)

    def flush(self) -> None:
        """Wait until every queued outcome is written."""
        if self._writer is not None:
            self._events.join()

    def _start_writer(self) -> None:
        if self._writer is None:
            with self._writer_lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write, daemon=True, name="ab-outcomes")
                    self._writer.start()

    def _write(self) -> None:
        while True:
            idle = None if self.retention_days is None else max(0.0, self._next_prune - time.monotonic())
            event: tuple[Any, ...] | None
            try:
                event = self._events.get(timeout=idle)
            except queue.Empty:
                event = None
            if self.retention_days is not None and time.monotonic() >= self._next_prune:
                self._prune(self.retention_days)
            if event is None:
                continue
            try:
                self.db.add_event(*event)
            except Exception:  # logged; the answer it describes was already served
                log.exception("could not write the A/B outcome of %s", event[0])
            finally:
                self._events.task_done()

    def _prune(self, retention_days: float) -> None:
        self._next_prune = time.monotonic() + self.prune_every_seconds
        try:
            self.pruned += self.db.prune(time.time() - retention_days * 86_400)
        except Exception:  # logged; statistics must not take the writer down
            log.exception("A/B outcomes: pruning old rows failed")

    def feedback(self, request_id: str, thumbs_up: bool) -> bool:
        """Record a thumbs up/down for a routed request; ``False`` if it was in no experiment."""
        self.flush()
        return self.db.add_feedback(request_id, 1 if thumbs_up else -1)

    def summary(self, name: str) -> list[dict[str, Any]]:
        """Per-arm requests, errors, mean latency, tokens, cost, thumbs up/down."""
        self.get(name)
        self.flush()
        return self.db.summary(name)

    def latencies(self, name: str) -> dict[str, list[float]]:
        """Per-arm latencies (seconds) of the successful requests, e.g. for Welch's t-test."""
        self.get(name)
        self.flush()
        return self.db.latencies(name)
