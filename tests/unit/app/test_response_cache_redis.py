"""The exact response cache on the machine's real Redis (own prefix per test): two caches on one
prefix stand for two gateway replicas — one's answer is the other's hit, the byte bound and the
least-recently-used order hold across both, entries expire, and Redis away is a miss."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from app.server.gateway.cache import CacheLookup, CacheSettings, ResponseCache
from app.server.gateway.cache_redis import RedisExactAnswers
from app.server.http.schemas import ChatCompletionRequest
from store.request_log import CallRecord
from tests.support.redis_server import drop_prefix, fresh_prefix, redis_url, require_redis
from tests.support.upstream import free_port

SIZE = len(orjson.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": "x" * 100}}]}))


def _payload(text: str) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]}


def _lookup(cache: ResponseCache, text: str) -> CacheLookup:
    body = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": text}])
    return asyncio.run(cache.lookup(body, {}))


def _store(cache: ResponseCache, question: str, answer: str = "x" * 100) -> None:
    _lookup(cache, question).remember(_payload(answer), CallRecord(endpoint="chat", model="m", status=200))
    cache._exact.flush()  # type: ignore[attr-defined]  # the writer thread's work, now


@pytest.fixture
def replicas() -> Iterator[tuple[ResponseCache, ResponseCache]]:
    client = require_redis()
    prefix = fresh_prefix("cache")
    settings = CacheSettings(max_bytes=3 * SIZE, ttl_seconds=60)

    def cache() -> ResponseCache:
        exact = RedisExactAnswers(redis_url(), prefix, settings.ttl_seconds, settings.max_bytes)
        return ResponseCache(settings, exact=exact)

    a, b = cache(), cache()
    yield a, b
    a.close()
    b.close()
    drop_prefix(client, prefix)
    client.close()


def test_an_answer_stored_by_one_replica_is_a_hit_on_the_other(replicas):
    a, b = replicas
    assert _lookup(b, "hello").result == "miss"
    _store(a, "hello", "hi there")
    hit = _lookup(b, "hello")
    assert hit.result == "hit" and hit.answer is not None
    assert hit.answer.payload == _payload("hi there") and hit.answer.model == "m"


def test_the_byte_bound_and_the_recency_order_hold_across_replicas(replicas):
    a, b = replicas
    for name, cache in (("a", a), ("b", b), ("c", a)):
        _store(cache, name)
    assert len(a) == 3 and a.stored_bytes == 3 * SIZE
    assert _lookup(b, "a").result == "hit"  # read on B: a is now more recent than b
    _store(a, "d")
    assert b.stored_bytes <= 3 * SIZE
    assert [_lookup(b, name).result for name in ("a", "b", "c", "d")] == ["hit", "miss", "hit", "hit"]


def test_one_long_answer_evicts_several_short_ones(replicas):
    a, b = replicas
    for name in ("a", "b", "c"):
        _store(a, name)
    _store(b, "long", "x" * (2 * SIZE))
    assert a.stored_bytes <= 3 * SIZE
    assert _lookup(a, "long").result == "hit"
    assert [_lookup(a, name).result for name in ("a", "b", "c")].count("hit") <= 1


def test_entries_expire():
    client = require_redis()
    prefix = fresh_prefix("cache-ttl")
    cache = ResponseCache(
        CacheSettings(ttl_seconds=0.2), exact=RedisExactAnswers(redis_url(), prefix, ttl_seconds=0.2, max_bytes=10**6)
    )
    try:
        _store(cache, "soon gone")
        assert _lookup(cache, "soon gone").result == "hit"
        time.sleep(0.3)
        assert _lookup(cache, "soon gone").result == "miss"
    finally:
        cache.close()
        drop_prefix(client, prefix)
        client.close()


def test_redis_away_is_a_miss_and_a_dropped_store():
    exact = RedisExactAnswers(f"redis://127.0.0.1:{free_port()}/0", "nowhere", 60, 10**6, timeout=0.2)
    cache = ResponseCache(CacheSettings(), exact=exact)
    try:
        lookup = _lookup(cache, "anything")
        assert lookup.result == "miss"
        lookup.remember(_payload("answer"), CallRecord(endpoint="chat", model="m", status=200))
        with pytest.raises(Exception, match="Connect|connect|refused"):
            exact.flush()  # what the writer thread logs and drops
    finally:
        cache.close()
