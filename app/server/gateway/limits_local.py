"""The in-process :class:`~app.server.gateway.limits.LimitStore`: one gateway's limits in memory.

Each :class:`~app.server.gateway.keys.ApiKey` carries its own :class:`RollingWindow` of requests
and of tokens and the estimate held for its calls under way; the spend it is checked against is
the key ring's (``ApiKey.spent_usd``: what was written to SQLite plus what this process charged).
This is the default, and the only store when ``REDIS_URL`` is unset.

Why not the ``limits`` package: its moving window refuses (and does not record) a charge larger
than what is left, and stores one entry per unit of cost, so charging a call's tokens after the
fact either gets lost or costs O(tokens). A deque of ``(time, amount)`` per key does both exactly.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from app.server.gateway.limits import (
    WINDOW_SECONDS,
    Denial,
    KeyUsage,
    Reservation,
    budget_denial,
    rpm_denial,
    tpm_denial,
)

if TYPE_CHECKING:
    from app.server.gateway.keys import ApiKey

__all__ = ["LocalLimits", "RollingWindow"]


class RollingWindow:
    """Amounts added over the last ``seconds``, against a limit.

    Example:
        >>> window = RollingWindow(limit=2)
        >>> window.add(0.0, 1); window.add(10.0, 1)
        >>> window.retry_after(30.0)  # full until the first entry is 60 s old
        30.0
        >>> window.retry_after(61.0) is None
        True
    """

    __slots__ = ("_events", "_used", "limit", "seconds")

    def __init__(self, limit: int, seconds: float = WINDOW_SECONDS):
        self.limit, self.seconds = limit, seconds
        self._events: deque[tuple[float, int]] = deque()
        self._used = 0

    def _expire(self, now: float) -> None:
        horizon = now - self.seconds
        events = self._events
        while events and events[0][0] <= horizon:
            self._used -= events.popleft()[1]

    def used(self, now: float) -> int:
        """The total added in ``(now - seconds, now]``."""
        self._expire(now)
        return self._used

    def add(self, now: float, amount: int) -> None:
        """Count ``amount`` at time ``now`` (even past the limit: tokens are charged after the fact)."""
        if amount > 0:
            self._expire(now)
            self._events.append((now, amount))
            self._used += amount

    def retry_after(self, now: float) -> float | None:
        """``None`` while under the limit, else the seconds until enough ages out to get under it."""
        self._expire(now)
        excess = self._used - self.limit + 1
        if excess <= 0:
            return None
        for at, amount in self._events:
            excess -= amount
            if excess <= 0:
                return at + self.seconds - now
        return self.seconds  # not reached: the events add up to _used


class LocalLimits:
    """Limits kept on each key in this process (see the module docstring); one lock for all keys.

    Example:
        >>> from store.api_keys_db import StoredKey
        >>> from app.server.gateway.keys import ApiKey
        >>> limits, key = LocalLimits(), ApiKey(StoredKey("key_1", "a", "ab", "my-AbCdE", (), rpm=1))
        >>> limits.admit(key, now=0.0) is None, limits.admit(key, now=1.0).code
        (True, 'rate_limit_exceeded')
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def admit(self, key: ApiKey, now: float | None = None) -> Denial | None:
        s = key.stored
        now = time.monotonic() if now is None else now
        with self._lock:
            if s.budget_usd is not None and key.spent_usd >= s.budget_usd:
                return budget_denial(key, key.spent_usd)
            if key.requests is not None and (wait := key.requests.retry_after(now)) is not None:
                return rpm_denial(key, wait)
            if key.tokens is not None and (wait := key.tokens.retry_after(now)) is not None:
                return tpm_denial(key, key.tokens.used(now), wait)
            if key.requests is not None:
                key.requests.add(now, 1)
        return None

    def reserve(self, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None) -> Reservation | Denial:
        s = key.stored
        now = time.monotonic() if now is None else now
        with self._lock:
            if s.budget_usd is not None and key.spent_usd + key.reserved_usd >= s.budget_usd:
                return budget_denial(key, key.spent_usd, key.reserved_usd)
            if key.tokens is not None and key.tokens.used(now) + key.reserved_tokens >= key.tokens.limit:
                wait = key.tokens.retry_after(now) or 1.0
                return tpm_denial(key, key.tokens.used(now), wait, key.reserved_tokens)
            key.reserved_usd += cost_usd
            key.reserved_tokens += tokens
        return Reservation(key, tokens, cost_usd)

    async def aadmit(self, key: ApiKey) -> Denial | None:
        return self.admit(key)  # microseconds under a lock: no reason to leave the loop

    async def areserve(self, key: ApiKey, tokens: int, cost_usd: float, admit: bool = False) -> Reservation | Denial:
        if admit and (denial := self.admit(key)) is not None:
            return denial
        return self.reserve(key, tokens, cost_usd)

    def settle(
        self, reservation: Reservation | None, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None
    ) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if reservation is not None:
                key.reserved_usd = max(0.0, key.reserved_usd - reservation.usd)
                key.reserved_tokens = max(0, key.reserved_tokens - reservation.tokens)
            if key.tokens is not None:
                key.tokens.add(now, tokens)

    def usage(self, keys: list[ApiKey], now: float | None = None) -> list[KeyUsage]:
        now = time.monotonic() if now is None else now
        with self._lock:
            return [
                KeyUsage(
                    key.requests.used(now) if key.requests else None,
                    key.tokens.used(now) if key.tokens else None,
                    key.spent_usd,
                )
                for key in keys
            ]

    def close(self) -> None:
        """Nothing to let go of."""
