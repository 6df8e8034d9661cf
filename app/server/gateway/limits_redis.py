"""The Redis :class:`~app.server.gateway.limits.LimitStore`: one set of limits for every replica.

Each operation is one Lua script (:mod:`~app.server.gateway.limits_lua`) run atomically in Redis,
so 60 rpm across three replicas admits 60, and concurrent calls on one budget overshoot it by at
most one reservation. Round-trips: admission (``admit``) and the reservation (``reserve``) are one
each, or one together (``areserve(admit=True)``, the chat lifecycle's); a settlement is queued and
rides on the next admission's pipeline, or is sent by a small thread after ``settle_delay`` seconds
when no admission comes. ``modelyard_redis_roundtrips_total{use="limits"}`` (on ``/metrics``)
counts them.

Requests await redis-py's asyncio client (``aadmit``, ``areserve``; hiredis parses the replies),
so a round-trip to a Redis across the network never stalls the event loop; the synchronous
client serves the settling thread, key listings and callers outside an event loop (``admit``).

Fail closed: Redis unreachable at admission is :class:`~core.errors.SharedStateUnavailable`
(503 naming Redis) — a key with limits or a budget is refused rather than served unmetered; keys
without limits never touch Redis. Settlements that cannot be sent stay queued (bounded) and are
retried; a replica that dies holding reservations releases them when their lease ends
(``lease_seconds``). A settlement re-sent after a connection broke mid-reply may be charged twice
(it errs on the side of the budget).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis
import redis.asyncio
from prometheus_client import Counter

from app.server.gateway.limits import (
    WINDOW_SECONDS,
    Denial,
    KeyUsage,
    Reservation,
    budget_denial,
    rpm_denial,
    tpm_denial,
)
from app.server.gateway.limits_lua import SCRIPTS
from core.errors import SharedStateUnavailable
from core.redaction import redacted

if TYPE_CHECKING:
    from app.server.gateway.keys import ApiKey

__all__ = ["RedisLimits", "ScriptCall"]

log = logging.getLogger(__name__)

ScriptCall = tuple[str, list[str], list[str]]
"""A script's name, its keys and its arguments."""

_MAX_QUEUED = 100_000
"""Settlements kept while Redis is away; older ones are dropped (their holds end with the lease)."""


class RedisLimits:
    """Keys' windows, holds and spend in Redis, under ``prefix`` (see the module docstring).

    Args:
        url: the Redis URL (``REDIS_URL``), e.g. ``redis://127.0.0.1:6379/0``.
        prefix: the first part of every key name (``MODELYARD_REDIS_PREFIX``; tests use their own).
        counter: what counts the round-trips (``modelyard_redis_roundtrips_total{use="limits"}``), if anything.
        lease_seconds: longest a reservation is held when its call never settles.
        settle_delay: longest a settlement waits for an admission to ride on.
        timeout: seconds to connect or to get an answer before Redis counts as unreachable.

    Example:
        >>> limits = RedisLimits("redis://127.0.0.1:6379/0", prefix="doc")  # doctest: +SKIP
        >>> limits.admit(key) is None  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        url: str,
        prefix: str = "modelyard",
        counter: Counter | None = None,
        lease_seconds: float = 900.0,
        settle_delay: float = 0.05,
        timeout: float = 1.0,
    ):
        self.url, self.prefix = url, prefix
        self.lease_seconds, self.settle_delay = lease_seconds, settle_delay
        self._options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        self._client = redis.Redis.from_url(url, **self._options)
        """For the settling thread and listings; requests use the asyncio client (:meth:`_async_client`)."""
        self._aclient: redis.asyncio.Redis | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._sha = {name: hashlib.sha1(source.encode()).hexdigest() for name, source in SCRIPTS.items()}
        self.roundtrips = 0
        """Round-trips to Redis so far (also ``modelyard_redis_roundtrips_total``)."""
        self._counter = counter
        self._lock = threading.Lock()
        self._queued: list[ScriptCall] = []
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelyard-redis-settle", daemon=True)
        self._thread.start()

    # ---- the store -------------------------------------------------------------------------
    def keys_of(self, key_id: str) -> list[str]:
        """The Redis keys of one API key, in the scripts' order (one hash tag)."""
        base = f"{self.prefix}:{{{key_id}}}"
        return [f"{base}:requests", f"{base}:tokens", f"{base}:holds", f"{base}:account"]

    def admit(self, key: ApiKey, now: float | None = None) -> Denial | None:
        return _admission_verdict(key, self._admission(self._admit_call(key, now)))

    async def aadmit(self, key: ApiKey) -> Denial | None:
        return _admission_verdict(key, await self._aadmission(self._admit_call(key, None)))

    def reserve(self, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None) -> Reservation | Denial:
        reply = self._admission(self._reserve_call(key, tokens, cost_usd, now))
        return _reservation_verdict(key, tokens, cost_usd, reply)

    async def areserve(self, key: ApiKey, tokens: int, cost_usd: float, admit: bool = False) -> Reservation | Denial:
        reserving = self._reserve_call(key, tokens, cost_usd, None)
        if not admit:
            return _reservation_verdict(key, tokens, cost_usd, await self._aadmission(reserving))
        admitting = self._admit_call(key, None)
        reply = await self._aadmission(("admit_reserve", reserving[1], [*admitting[2], *reserving[2]]))
        if _text(reply[0]) == "admit":
            return _admission_verdict(key, reply[1:]) or budget_denial(key, key.spent_usd)  # not reached
        return _reservation_verdict(key, tokens, cost_usd, reply)

    def _admit_call(self, key: ApiKey, now: float | None) -> ScriptCall:
        s = key.stored
        args = [_clock(now), str(s.rpm or 0), str(s.tpm or 0), _budget(key), repr(key.spent_usd), repr(WINDOW_SECONDS)]
        return ("admit", self.keys_of(key.id), args)

    def _reserve_call(self, key: ApiKey, tokens: int, cost_usd: float, now: float | None) -> ScriptCall:
        s = key.stored
        args = [
            _clock(now),
            str(s.tpm or 0),
            _budget(key),
            repr(key.spent_usd),
            str(max(0, tokens)),
            repr(max(0.0, cost_usd)),
            repr(self.lease_seconds),
            repr(WINDOW_SECONDS),
        ]
        return ("reserve", self.keys_of(key.id), args)

    def settle(
        self, reservation: Reservation | None, key: ApiKey, tokens: int, cost_usd: float, now: float | None = None
    ) -> None:
        s = key.stored
        if reservation is None and not s.tpm and s.budget_usd is None:
            return  # an rpm-only key: nothing to charge in Redis
        hold = reservation.ref if reservation is not None else ""
        args = [_clock(now), hold, str(tokens), repr(cost_usd), str(s.tpm or 0), repr(key.spent_usd)]
        self._queue(("settle", self.keys_of(key.id), [*args, repr(WINDOW_SECONDS)]))

    def usage(self, keys: list[ApiKey], now: float | None = None) -> list[KeyUsage]:
        if not keys:
            return []
        calls = [("usage", self.keys_of(k.id), [_clock(now), repr(k.spent_usd), repr(WINDOW_SECONDS)]) for k in keys]
        replies = self._send(calls)
        found = []
        for key, reply in zip(keys, replies, strict=True):
            if isinstance(reply, Exception):
                raise reply
            found.append(
                KeyUsage(
                    int(float(reply[0])) if key.stored.rpm else None,
                    int(float(reply[1])) if key.stored.tpm else None,
                    float(reply[2]),
                )
            )
        return found

    def close(self) -> None:
        """Stop the settling thread, send what is queued (if Redis answers) and disconnect."""
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=10)
        try:
            self.flush()
        except SharedStateUnavailable as exc:
            log.warning("Redis limits: %d settlements not sent at shutdown (%s)", len(self._queued), exc)
        self._client.close()
        self._aclient = None  # its connections close with their event loop

    # ---- round-trips -----------------------------------------------------------------------
    def _admission(self, call: ScriptCall) -> Any:
        """Run ``call`` with every queued settlement in front of it, in one round-trip."""
        with self._lock:
            queued, self._queued = self._queued, []
        try:
            replies = self._send([*queued, call])
        except SharedStateUnavailable:
            self._requeue(queued)
            raise
        _log_failures(replies[:-1])
        if isinstance(replies[-1], Exception):
            raise replies[-1]
        return replies[-1]

    async def _aadmission(self, call: ScriptCall) -> Any:
        """:meth:`_admission` on the asyncio client: the event loop serves other requests meanwhile."""
        with self._lock:
            queued, self._queued = self._queued, []
        try:
            replies = await self._asend([*queued, call])
        except SharedStateUnavailable:
            self._requeue(queued)
            raise
        _log_failures(replies[:-1])
        if isinstance(replies[-1], Exception):
            raise replies[-1]
        return replies[-1]

    def _queue(self, call: ScriptCall) -> None:
        with self._lock:
            self._queued.append(call)
            first = len(self._queued) == 1
        if first:
            self._wake.set()

    def _requeue(self, calls: list[ScriptCall]) -> None:
        with self._lock:
            self._queued[:0] = calls
            if len(self._queued) > _MAX_QUEUED:
                dropped = len(self._queued) - _MAX_QUEUED
                del self._queued[:dropped]
                log.error("Redis limits: %d settlements dropped while Redis is unreachable", dropped)

    def flush(self) -> None:
        """Send the queued settlements now (one round-trip)."""
        with self._lock:
            queued, self._queued = self._queued, []
        if not queued:
            return
        try:
            _log_failures(self._send(queued))
        except SharedStateUnavailable:
            self._requeue(queued)
            raise

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._stopping.wait(self.settle_delay)  # an admission may take them along meanwhile
            self._wake.clear()
            try:
                self.flush()
            except SharedStateUnavailable as exc:
                log.warning("Redis limits: settlements wait for Redis (%s)", exc)
                self._stopping.wait(1.0)
                self._wake.set()

    def _send(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """Every call in one pipelined round-trip (a second one, to load the scripts, only after
        Redis forgot them); each reply, or the exception the script raised."""
        replies = self._pipeline(calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if missing:
            self._load_scripts()
            for i, reply in zip(missing, self._pipeline([calls[i] for i in missing]), strict=True):
                replies[i] = reply
        return replies

    async def _asend(self, calls: Sequence[ScriptCall]) -> list[Any]:
        """:meth:`_send` on the asyncio client."""
        replies = await self._apipeline(calls)
        missing = [i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if missing:
            await asyncio.to_thread(self._load_scripts)
            again = await self._apipeline([calls[i] for i in missing])
            for i, reply in zip(missing, again, strict=True):
                replies[i] = reply
        return replies

    async def _apipeline(self, calls: Sequence[ScriptCall]) -> list[Any]:
        client = self._async_client()
        try:
            if len(calls) == 1:  # the usual case without queued settlements: no pipeline object (~30 µs less)
                name, keys, args = calls[0]
                try:
                    return [await client.evalsha(self._sha[name], len(keys), *keys, *args)]
                except redis.exceptions.ResponseError as exc:  # NOSCRIPT or the script's own error
                    return [exc]
            pipe = client.pipeline(transaction=False)
            for name, keys, args in calls:
                pipe.evalsha(self._sha[name], len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        finally:
            self._count()

    def _async_client(self) -> redis.asyncio.Redis:
        """The asyncio client of the running event loop (its connections belong to one loop; a test
        client or a restarted server brings a new one)."""
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            self._aclient, self._aloop = redis.asyncio.Redis.from_url(self.url, **self._options), loop
        return self._aclient

    def _pipeline(self, calls: Sequence[ScriptCall]) -> list[Any]:
        pipe = self._client.pipeline(transaction=False)
        for name, keys, args in calls:
            pipe.evalsha(self._sha[name], len(keys), *keys, *args)
        try:
            replies = pipe.execute(raise_on_error=False)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        finally:
            self._count()
        return list(replies)

    def _load_scripts(self) -> None:
        try:
            for source in SCRIPTS.values():
                self._client.script_load(source)
                self._count()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            raise self._unreachable(exc) from exc

    def _count(self) -> None:
        with self._lock:
            self.roundtrips += 1
        if self._counter is not None:
            self._counter.inc()

    def _unreachable(self, exc: Exception) -> SharedStateUnavailable:
        return SharedStateUnavailable(
            f"Redis at {redacted(self.url)} is unreachable ({exc}); it holds the keys' rate limits and "
            "budgets (REDIS_URL), so requests of keys with limits are refused until it answers"
        )


def _admission_verdict(key: ApiKey, reply: Any) -> Denial | None:
    verdict = _text(reply[0])
    if verdict == "budget":
        return budget_denial(key, float(reply[1]))
    if verdict == "rpm":
        return rpm_denial(key, float(reply[1]))
    if verdict == "tpm":
        return tpm_denial(key, int(float(reply[2])), float(reply[1]))
    return None


def _reservation_verdict(key: ApiKey, tokens: int, cost_usd: float, reply: Any) -> Reservation | Denial:
    verdict = _text(reply[0])
    if verdict == "budget":
        return budget_denial(key, float(reply[1]), float(reply[2]))
    if verdict == "tpm":
        return tpm_denial(key, int(float(reply[2])), float(reply[1]), int(float(reply[3])))
    return Reservation(key, tokens, cost_usd, ref=_text(reply[1]))


def _clock(now: float | None) -> str:
    return "" if now is None else repr(now)


def _budget(key: ApiKey) -> str:
    return "" if key.stored.budget_usd is None else repr(key.stored.budget_usd)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _log_failures(replies: list[Any]) -> None:
    for reply in replies:
        if isinstance(reply, Exception):
            log.error("Redis limits: a settlement failed: %s", reply)
