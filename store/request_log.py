"""The request log, written off the hot path.

A request hands a :class:`CallRecord` to :meth:`RequestLog.write`, which only appends it to a
bounded queue (never blocks, never raises). One daemon thread drains the queue and inserts rows
in batches (``batch_size`` rows or every ``flush_seconds``). When the queue is full the record is
dropped and counted in ``dropped`` — serving wins over accounting.

The same thread deletes rows older than ``retention_days`` at start and then every
``prune_every_seconds``, so the log cannot grow without bound. The hourly rollups that answer usage
(:mod:`store.request_rollups`) are pruned at ``rollup_retention_days`` instead, 400 by default: totals
per key and model are what a bill, a budget review or this month against the same month last year
need long after the rows they came from; one rollup row stands for up to an hour of one key's calls to
one model, so a year of them is at most 8,760 rows per active (key, model) pair however busy the
gateway is. Rollups are never dropped before the raw rows they sum (a shorter rollup retention is
raised to the rows'; no retention for the rows keeps the rollups too), so a range the raw rows still
cover is answered in full.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import EllipsisType
from typing import Any

from store.request_log_db import RequestLogDB

__all__ = ["CallRecord", "RequestLog"]

log = logging.getLogger(__name__)


@dataclass
class CallRecord:
    """One gateway call as it is logged and measured (no prompt or answer text)."""

    endpoint: str
    model: str = ""
    deployment: str = ""
    route_reason: str = ""
    latency_s: float = 0.0
    ttft_s: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    status: int = 200
    error_class: str = ""
    key_id: str = ""
    """The consumer API key's id (never the key itself); empty for the master key or an open server."""
    cache: str = ""
    """``hit``, ``semantic_hit``, ``miss`` or ``bypass`` when the response cache was consulted."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: float = field(default_factory=time.time)

    def row(self) -> tuple[Any, ...]:
        """The row in :data:`store.request_log_db.COLUMNS` order."""
        ttft_ms = None if self.ttft_s is None else self.ttft_s * 1000
        return (
            self.id,
            self.ts,
            self.endpoint,
            self.model,
            self.deployment,
            self.route_reason,
            self.latency_s * 1000,
            ttft_ms,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd,
            self.status,
            self.error_class,
            self.key_id,
            self.cache,
        )


class RequestLog:
    """A batched, background-written SQLite request log.

    Args:
        target: the SQLite file, or a SQLAlchemy database URL (``DATABASE_URL``).
        batch_size: rows per transaction at most.
        flush_seconds: longest a row waits in memory.
        max_queue: records held in memory before new ones are dropped.
        retention_days: rows older than this are deleted; ``None`` keeps everything.
        rollup_retention_days: hourly rollups older than this are deleted (never before the rows);
            ``None`` keeps them.
        prune_every_seconds: how often the retentions are applied.

    Example:
        >>> request_log = RequestLog(tmp_path / "requests.sqlite")
        >>> request_log.write(CallRecord(endpoint="chat", model="m"))
        >>> request_log.flush()  # True once every queued record is written
        True
        >>> request_log.usage(0, time.time())[0]["requests"]
        1
        >>> request_log.close()
    """

    def __init__(
        self,
        target: Path | str,
        batch_size: int = 200,
        flush_seconds: float = 0.5,
        max_queue: int = 50_000,
        retention_days: float | None = None,
        prune_every_seconds: float = 3600.0,
        rollup_retention_days: float | None = 400.0,
    ):
        self.db = RequestLogDB(target)
        self.batch_size, self.flush_seconds = batch_size, flush_seconds
        self.retention_days, self.prune_every_seconds = retention_days, prune_every_seconds
        self.rollup_retention_days = (
            None
            if retention_days is None or rollup_retention_days is None
            else max(retention_days, rollup_retention_days)
        )
        self.dropped = 0
        self.pruned = 0
        self.pruned_rollups = 0
        self._next_prune = 0.0
        self._queue: queue.Queue[CallRecord | threading.Event | None] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="modelyard-request-log", daemon=True)
        self._thread.start()

    def write(self, call: CallRecord) -> None:
        """Queue ``call`` for writing; returns at once and never raises."""
        try:
            self._queue.put_nowait(call)
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written (for readers and shutdown)."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def usage(self, since: float, until: float, key_id: str | None = None) -> list[dict[str, Any]]:
        """Per-(key, model) totals over ``[since, until]`` of what has been written (one key's only
        when ``key_id`` is given)."""
        return self.db.usage(since, until, key_id)

    def rows(self, since: float, until: float, limit: int | None = None) -> list[dict[str, Any]]:
        """Every logged row in ``[since, until]`` (the latest ``limit``, when given), oldest first."""
        return self.db.rows(since, until, limit)

    def close(self) -> None:
        """Write what is queued and stop the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        batch: list[CallRecord] = []
        waiting: list[threading.Event] = []
        due = 0.0  # when the batch's oldest row must be written
        while True:
            now = time.monotonic()
            idle = None if self.retention_days is None else max(0.0, self._next_prune - now)
            item: CallRecord | threading.Event | None | EllipsisType  # ... = the wait timed out
            try:
                item = self._queue.get(timeout=max(0.0, due - now) if batch else idle)
            except queue.Empty:
                item = ...
            if isinstance(item, CallRecord):
                if not batch:
                    due = time.monotonic() + self.flush_seconds
                batch.append(item)
                if len(batch) < self.batch_size and time.monotonic() < due:
                    continue
            elif isinstance(item, threading.Event):
                waiting.append(item)
            self._write(batch)
            batch = []
            for event in waiting:
                event.set()
            waiting = []
            if item is None:
                return
            if self.retention_days is not None and time.monotonic() >= self._next_prune:
                self._prune(self.retention_days)

    def _prune(self, retention_days: float) -> None:
        self._next_prune = time.monotonic() + self.prune_every_seconds
        now = time.time()
        try:
            self.pruned += self.db.prune(now - retention_days * 86_400)
            if self.rollup_retention_days is not None:
                self.pruned_rollups += self.db.prune_rollups(now - self.rollup_retention_days * 86_400)
        except Exception:
            log.exception("request log: pruning old rows failed")

    def _write(self, batch: list[CallRecord]) -> None:
        if not batch:
            return
        try:
            self.db.insert(call.row() for call in batch)
        except Exception:  # the log must never take the server down; the rows are lost, say so
            self.dropped += len(batch)
            log.exception("request log: %d rows could not be written", len(batch))
