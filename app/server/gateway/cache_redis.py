"""The exact response cache on Redis (``REDIS_URL``): one cache for every gateway replica.

An answer stored by replica A is a hit on replica B. The same rules as the in-process store
(:class:`~app.server.gateway.cache.LocalExactAnswers`) hold: entries live ``ttl_seconds``, and
the stored answers together stay within ``max_bytes``, least recently used out first — kept by
two Lua scripts, so concurrent replicas never push the total past the bound:

* ``get`` (one round-trip, on redis-py's asyncio client): the entry, and its use time raised in
  the recency set;
* ``put`` (sent by a writer thread after the answer went out, so a miss never waits on it): the
  entry with its TTL, its size and use time recorded, then the least recently used entries
  evicted until the total fits (an expired entry counts until the eviction reaches it — it is
  the oldest, so it goes first).

Keys: ``<prefix>:cache:e:<sha256>`` (the answer, orjson), ``<prefix>:cache:lru`` (sorted set of
use times), ``<prefix>:cache:sizes`` (hash of sizes) and ``<prefix>:cache:bytes`` (their sum).
Redis unreachable: a lookup is a miss and a store is dropped (logged) — the cache only saves
work, so it fails open, unlike the limits.

The **semantic** index is not shared: its vectors stay in each replica's memory (a paraphrase
hit needs a nearest-neighbour search that plain Redis does not do), so a semantic hit comes from
questions this replica answered; ``CacheSettings`` says so.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import fields
from typing import Any

import orjson
import redis
import redis.asyncio
from prometheus_client import Counter

from app.server.gateway.cache import CachedAnswer

__all__ = ["RedisExactAnswers"]

log = logging.getLogger(__name__)

_GET = """
local found = redis.call('GET', KEYS[1])
if found then redis.call('ZADD', KEYS[2], ARGV[1], KEYS[1]) end
return found
"""

_PUT = """
-- KEYS: entry, lru, sizes, bytes; ARGV: answer, ttl ms, size, now, max bytes
local old = tonumber(redis.call('HGET', KEYS[3], KEYS[1]) or '0')
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], ARGV[3])
local total = redis.call('INCRBY', KEYS[4], tonumber(ARGV[3]) - old)
local limit = tonumber(ARGV[5])
while total > limit do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  if #oldest == 0 then break end
  local size = tonumber(redis.call('HGET', KEYS[3], oldest[1]) or '0')
  redis.call('DEL', oldest[1])
  redis.call('HDEL', KEYS[3], oldest[1])
  total = redis.call('DECRBY', KEYS[4], size)
end
return total
"""


class RedisExactAnswers:
    """Exact cache entries in Redis under ``prefix`` (see the module docstring).

    Args:
        url: the Redis URL (``REDIS_URL``).
        prefix: the first part of every key name (``MODELYARD_REDIS_PREFIX``).
        ttl_seconds: lifetime of an entry.
        max_bytes: bound of the stored answers' JSON bytes.
        timeout: seconds to connect or to answer before Redis counts as unreachable.
        counter: what counts the lookups' round-trips (``modelyard_redis_roundtrips_total{use="cache"}``).
    """

    def __init__(
        self,
        url: str,
        prefix: str,
        ttl_seconds: float,
        max_bytes: int,
        timeout: float = 1.0,
        counter: Counter | None = None,
    ):
        self.url, self.ttl_seconds, self.max_bytes = url, ttl_seconds, max_bytes
        base = f"{prefix}:cache"
        self._entry, self._lru, self._sizes, self._bytes = f"{base}:e:", f"{base}:lru", f"{base}:sizes", f"{base}:bytes"
        self._options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        self._client = redis.Redis.from_url(url, **self._options)
        self._put = self._client.register_script(_PUT)
        self._aclient: redis.asyncio.Redis | None = None
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._aget: Any = None
        self._lock = threading.Lock()
        self._queued: list[tuple[str, CachedAnswer]] = []
        self._wake, self._stopping = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._write, name="modelyard-cache-writer", daemon=True)
        self._thread.start()
        self.roundtrips = 0
        """Lookups sent to Redis (stores are sent by the writer thread and not counted)."""
        self._counter = counter

    async def get(self, key: str) -> CachedAnswer | None:
        """The live entry under ``key`` (one round-trip), or ``None`` — also when Redis is away."""
        self.roundtrips += 1
        if self._counter is not None:
            self._counter.inc()
        try:
            client, script = self._async()
            found = await script(keys=[self._entry + key, self._lru], args=[repr(time.time())], client=client)
        except redis.exceptions.RedisError as exc:
            log.warning("response cache: lookup is a miss, Redis unreachable (%s)", exc)
            return None
        if found is None:
            return None
        return CachedAnswer(**orjson.loads(found))

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Queue ``answer`` for the writer thread."""
        with self._lock:
            self._queued.append((key, answer))
        self._wake.set()

    def __len__(self) -> int:
        return int(self._client.zcard(self._lru))

    @property
    def stored_bytes(self) -> int:
        return int(self._client.get(self._bytes) or 0)

    def flush(self) -> None:
        """Send the queued stores now."""
        with self._lock:
            queued, self._queued = self._queued, []
        if not queued:
            return
        ttl_ms = str(max(1, int(self.ttl_seconds * 1000)))
        pipe = self._client.pipeline(transaction=False)  # every answer queued since the last wake: one round-trip
        for key, answer in queued:
            value = orjson.dumps({field.name: getattr(answer, field.name) for field in fields(answer)})
            entry = self._entry + key
            args: list[bytes | str] = [value, ttl_ms, str(answer.size), repr(time.time()), str(self.max_bytes)]
            self._put(keys=[entry, self._lru, self._sizes, self._bytes], args=args, client=pipe)
        pipe.execute()

    def close(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._thread.join(timeout=5)
        try:
            self.flush()
        except redis.exceptions.RedisError as exc:
            log.warning("response cache: stores dropped at shutdown (%s)", exc)
        self._client.close()
        self._aclient = None

    def _async(self) -> tuple[redis.asyncio.Redis, Any]:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aloop is not loop:
            self._aclient, self._aloop = redis.asyncio.Redis.from_url(self.url, **self._options), loop
            self._aget = self._aclient.register_script(_GET)
        return self._aclient, self._aget

    def _write(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait()
            self._wake.clear()
            try:
                self.flush()
            except redis.exceptions.RedisError as exc:
                log.warning("response cache: answers not stored, Redis unreachable (%s)", exc)
