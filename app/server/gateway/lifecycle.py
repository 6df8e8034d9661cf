"""One request's accounting, settled exactly once whatever the outcome.

A handler opens a :class:`Call` when the request is admitted; the dispatch fills in the route,
usage, cost and time to first token as they become known; :meth:`Call.settle` then charges the
consumer key, observes the metrics and writes the request-log row — once, on success, on an
upstream failure, on a refusal and when the client goes away mid-stream (a second ``settle`` is
a no-op). Nothing here knows about HTTP: the status of a failure is given by the caller.

Example:
    >>> from store.request_log import CallRecord
    >>> settled = []
    >>> call = Call(settled.append, "chat", "auto")
    >>> call.answered({"model": "m", "deployment": "d", "reason": "why"})
    >>> call.usage(3, 2, 0.001)
    >>> call.settle(); call.settle()
    >>> len(settled), settled[0].model, settled[0].input_tokens
    (1, 'm', 3)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from store.request_log import CallRecord

__all__ = ["Call"]


class Call:
    """The accounting of one gateway request (see the module docstring).

    Args:
        settle: receives the finished :class:`CallRecord` once (charge, metrics, log).
        endpoint: the request-log endpoint label (``chat``, ``chat_stream``, ``images`` …).
        model: the model the caller asked for (replaced by the one that answered).
        key_id: the consumer key's id, if any.
        cache: the response cache's verdict (``hit``, ``miss`` …), if it was consulted.
        started: ``time.perf_counter()`` when the request arrived (default: now).
    """

    def __init__(
        self,
        settle: Callable[[CallRecord], None],
        endpoint: str,
        model: str,
        key_id: str = "",
        cache: str = "",
        started: float | None = None,
    ):
        self.record = CallRecord(endpoint=endpoint, model=model, key_id=key_id, cache=cache)
        self.started = time.perf_counter() if started is None else started
        self.upstream_s = 0.0
        """Seconds spent waiting for upstreams (what ``x-modelyard-overhead-ms`` leaves out)."""
        self.reservation: Any = None
        """What was held against the consumer key at admission; released when the call settles."""
        self._settle = settle
        self._settled = False

    @property
    def settled(self) -> bool:
        return self._settled

    def answered(self, route: dict[str, Any]) -> None:
        """The route record of the answer: who answered and why."""
        record = self.record
        record.model = route.get("model") or record.model
        record.deployment = route.get("deployment", "")
        record.route_reason = route.get("reason", "")

    def usage(self, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        """The answer's tokens and cost (replacing what was known)."""
        self.record.input_tokens, self.record.output_tokens, self.record.cost_usd = (
            input_tokens,
            output_tokens,
            cost_usd,
        )

    def first_token(self) -> None:
        """Mark the time to the first token (the first call counts)."""
        if self.record.ttft_s is None:
            self.record.ttft_s = time.perf_counter() - self.started

    def failed(self, status: int, exc: BaseException | str) -> None:
        """The request ended with ``status`` because of ``exc`` (its class is logged, not its text)."""
        self.record.status = status
        self.record.error_class = exc if isinstance(exc, str) else type(exc).__name__

    def overhead_ms(self) -> float:
        """Milliseconds spent in the gateway so far, upstream waits excluded."""
        return max(0.0, (time.perf_counter() - self.started - self.upstream_s) * 1000)

    def settle(self) -> None:
        """Charge, measure and log the call — the first time only."""
        if self._settled:
            return
        self._settled = True
        self.record.latency_s = time.perf_counter() - self.started
        self._settle(self.record)
