"""Deployment health shared by every gateway replica through Redis (``REDIS_URL``).

A :class:`RedisHealthBoard` is attached to a replica's :class:`~routers.health.HealthTracker`
(``tracker.share(board)``). What is shared is what decides whether a deployment is called:
its consecutive failures, its cooldown and the half-open probe. What stays per replica is what
only describes this replica's traffic: in-flight calls, the latency average, totals.

* **A failure seen by one replica counts for all.** A failure (or a success after failures) is
  reported to Redis by this module's thread — one Lua script, atomic across replicas — and the
  script publishes the deployment's new state on one channel. Every replica's thread applies
  what it hears to its tracker, so a cooldown started through replica A is skipped by replica B
  within a pub/sub delivery (milliseconds on one network), not after B's own three failures.
* **One half-open probe cluster-wide.** When a cooldown ends, the replica that wants to call the
  deployment first claims the probe in Redis (``SET``-like lease in the script); the others hear
  of the claim and skip the deployment until the probe succeeds (circuit closed), fails (cooled
  down again) or its lease ends (the prober died).
* **No round-trip on the healthy path.** A call to a deployment with a clean record costs
  nothing in Redis: reports are sent only for failures and for the first success after them, and
  the only round-trip a request waits on is the probe claim, once per cooldown.

Clocks: cooldowns are stored as Redis ``TIME`` epochs and turned into this process's monotonic
clock when applied, so replicas agree on when a cooldown ends as far as their clocks agree.

Redis unreachable: health is advisory and **fails open** — each replica goes on with what it
knows (its own failures still cool a deployment down for it), a probe claim that cannot be sent
lets the call through, and the thread reconnects and re-reads every deployment's state. (Limits
and budgets fail closed, see ``app/server/gateway/limits_redis.py``: refusing service because
the health board is away would turn a Redis outage into a gateway outage.)
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from routers.health import HealthConfig, SharedState

__all__ = ["RedisHealthBoard"]

log = logging.getLogger(__name__)

_TTL_SECONDS = 86_400
"""A deployment's shared record is forgotten a day after its last change."""

_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
_PUBLISH = """
local state = cjson.encode({model = ARGV[1], deployment = ARGV[2],
  failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0'),
  cooldown_until = tonumber(redis.call('HGET', KEYS[1], 'cooldown_until') or '0'),
  probe_until = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')})
redis.call('EXPIRE', KEYS[1], TTL)
redis.call('PUBLISH', KEYS[2], state)
""".replace("TTL", str(_TTL_SECONDS))

_FAILED = (
    _NOW
    + """
-- ARGV: model, deployment, threshold, cooldown seconds, retry-after seconds, '1' if it was the probe
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local retry = tonumber(ARGV[5])
if ARGV[6] == '1' or failures >= tonumber(ARGV[3]) or retry > 0 then
  redis.call('HSET', KEYS[1], 'cooldown_until', now + math.max(tonumber(ARGV[4]), retry))
  redis.call('HDEL', KEYS[1], 'probe_until')
end
"""
    + _PUBLISH
    + "return state"
)
_CLOSED = "redis.call('DEL', KEYS[1])\n" + _PUBLISH + "return state"
_PROBE_ENDED = "redis.call('HDEL', KEYS[1], 'probe_until')\n" + _PUBLISH + "return state"
_CLAIM = (
    _NOW
    + """
-- ARGV: model, deployment, probe lease seconds; the reply: 'probe' (ours), else the state as it is
local cooling = tonumber(redis.call('HGET', KEYS[1], 'cooldown_until') or '0')
local probe = tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0')
if cooling == 0 or cooling > now or probe > now then
"""
    + _PUBLISH.replace("redis.call('PUBLISH', KEYS[2], state)", "")
    + """  return state
end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[3]))
"""
    + _PUBLISH
    + "return 'probe'"
)


class RedisHealthBoard:
    """The shared half of deployment health, on Redis under ``prefix`` (see the module docstring).

    Args:
        url: the Redis URL (``REDIS_URL``).
        prefix: the first part of every key and of the channel (``MODELYARD_REDIS_PREFIX``).
        probe_lease_seconds: longest one replica holds the half-open probe when its call never ends.
        timeout: seconds to connect or to answer before Redis counts as unreachable.

    Example:
        >>> tracker = HealthTracker()  # doctest: +SKIP
        >>> tracker.share(RedisHealthBoard("redis://127.0.0.1:6379/0", prefix="doc"))  # doctest: +SKIP
    """

    def __init__(self, url: str, prefix: str = "modelyard", probe_lease_seconds: float = 60.0, timeout: float = 1.0):
        self.url, self.prefix, self.probe_lease_seconds = url, prefix, probe_lease_seconds
        self.channel = f"{prefix}:health"
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._scripts = {
            "failed": self._client.register_script(_FAILED),
            "closed": self._client.register_script(_CLOSED),
            "probe_ended": self._client.register_script(_PROBE_ENDED),
            "claim": self._client.register_script(_CLAIM),
        }
        self._apply: Callable[[SharedState], None] | None = None
        self._lock = threading.Lock()
        self._queued: list[tuple[str, str, str, list[str]]] = []
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._threads: list[threading.Thread] = []
        self.reports = 0
        """Reports sent so far (failures, recoveries, probe ends) — none on the healthy path."""

    def attach(self, apply: Callable[[SharedState], None], config: HealthConfig) -> None:
        """Start hearing and reporting for one tracker (``apply`` receives every change heard)."""
        self._apply, self.config = apply, config
        for target, name in ((self._listen, "modelyard-health-listen"), (self._report, "modelyard-health-report")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    # ---- what the tracker calls ------------------------------------------------------------
    def failed(self, model: str, deployment: str, retry_after: float | None, probe: bool) -> None:
        args = [str(self.config.failure_threshold), repr(self.config.cooldown_seconds), repr(retry_after or 0.0)]
        self._queue("failed", model, deployment, [*args, "1" if probe else "0"])

    def closed(self, model: str, deployment: str) -> None:
        self._queue("closed", model, deployment, [])

    def probe_ended(self, model: str, deployment: str) -> None:
        self._queue("probe_ended", model, deployment, [])

    def claim_probe(self, model: str, deployment: str) -> SharedState | None:
        """Take the cluster-wide half-open probe (one round-trip): ``None`` when it is ours, else the
        deployment's state as Redis has it (another replica probes it, or it is closed or cooling)."""
        try:
            reply = self._run("claim", model, deployment, [repr(self.probe_lease_seconds)])
        except redis.exceptions.RedisError as exc:
            log.warning("health board: probe of %s/%s claimed locally, Redis unreachable (%s)", model, deployment, exc)
            return None
        return None if reply == b"probe" else _state(json.loads(reply))

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._client.close()

    # ---- Redis -----------------------------------------------------------------------------
    def _key(self, model: str, deployment: str) -> str:
        return f"{self.prefix}:health:{model}\x00{deployment}"

    def _run(self, script: str, model: str, deployment: str, args: list[str]) -> Any:
        return self._scripts[script](keys=[self._key(model, deployment), self.channel], args=[model, deployment, *args])

    def _queue(self, script: str, model: str, deployment: str, args: list[str]) -> None:
        with self._lock:
            self._queued.append((script, model, deployment, args))
        self._wake.set()

    def _report(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                queued, self._queued = self._queued, []
            for i, (script, model, deployment, args) in enumerate(queued):
                try:
                    self._run(script, model, deployment, args)
                    self.reports += 1
                except redis.exceptions.RedisError as exc:
                    log.warning("health board: %d reports wait for Redis (%s)", len(queued) - i, exc)
                    with self._lock:
                        self._queued[:0] = queued[i:][-1000:]
                    self._stopping.wait(1.0)
                    self._wake.set()
                    break

    def _listen(self) -> None:
        """Apply every state published on the channel; after (re)subscribing, re-read them all."""
        while not self._stopping.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self.channel)
                self._read_all()
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None:
                        self._hear(message["data"])
            except redis.exceptions.RedisError as exc:
                log.warning("health board: not hearing other replicas, Redis unreachable (%s)", exc)
                self._stopping.wait(1.0)
            finally:
                pubsub.close()

    def _read_all(self) -> None:
        for name in self._client.scan_iter(match=f"{self.prefix}:health:*", count=200):
            model, _, deployment = _text(name).removeprefix(f"{self.prefix}:health:").partition("\x00")
            values: dict[str, Any] = {_text(k): float(v) for k, v in self._client.hgetall(name).items()}
            self._deliver(_state({"model": model, "deployment": deployment, **values}))

    def _hear(self, data: bytes | str) -> None:
        self._deliver(_state(json.loads(data)))

    def _deliver(self, state: SharedState) -> None:
        if self._apply is not None:
            self._apply(state)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _state(values: dict[str, Any]) -> SharedState:
    """A published record, its Redis epochs turned into seconds from now (``None``: not set), so the
    tracker can place them on its own clock."""
    now = time.time()
    cooling, probe = float(values.get("cooldown_until") or 0), float(values.get("probe_until") or 0)
    return SharedState(
        values["model"],
        values["deployment"],
        int(values.get("failures") or 0),
        cooling - now if cooling else None,
        probe - now if probe else None,
    )
