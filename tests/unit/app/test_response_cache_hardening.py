"""Issue 13's cache findings without a server: the exact cache is bounded by the bytes of its answers
(least recently used evicted, an oversize answer not kept), the semantic cache is scoped per API key
unless shared, and answers routed by an A/B experiment or carrying broken tool calls are not stored."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import orjson

from app.server.gateway.cache import CacheLookup, CacheSettings, ResponseCache
from app.server.http.schemas import ChatCompletionRequest
from store.request_log import CallRecord


def _body(text: str) -> ChatCompletionRequest:
    return ChatCompletionRequest(model="m", messages=[{"role": "user", "content": text}])


def _payload(text: str, route: dict[str, Any] | None = None) -> dict[str, Any]:
    message = {"role": "assistant", "content": text}
    return {"choices": [{"index": 0, "message": message, "finish_reason": "stop"}], "modelyard_route": route or {}}


def _lookup(cache: ResponseCache, text: str, owner: str = "") -> CacheLookup:
    return asyncio.run(cache.lookup(_body(text), {}, owner=owner))


def _store(cache: ResponseCache, question: str, answer: str, owner: str = "", **route: Any) -> None:
    _lookup(cache, question, owner).remember(_payload(answer, route), CallRecord(endpoint="chat", model="m"))


def _same_vector(_: str) -> np.ndarray:
    return np.asarray([1.0, 0.0], dtype=np.float32)


# ---- bytes, not entries --------------------------------------------------------------------------
def test_the_exact_cache_is_bounded_by_bytes_and_evicts_the_least_recently_used():
    size = len(orjson.dumps(_payload("x" * 100)))
    cache = ResponseCache(CacheSettings(max_bytes=3 * size))
    for name in ("a", "b", "c"):
        _store(cache, name, "x" * 100)
    assert len(cache) == 3 and cache.stored_bytes == 3 * size
    assert _lookup(cache, "a").result == "hit"  # a is now more recent than b
    _store(cache, "d", "x" * 100)
    assert cache.stored_bytes <= 3 * size
    assert [_lookup(cache, name).result for name in ("a", "b", "c", "d")] == ["hit", "miss", "hit", "hit"]


def test_one_long_answer_takes_the_room_of_several_short_ones():
    short = len(orjson.dumps(_payload("x" * 100)))
    cache = ResponseCache(CacheSettings(max_bytes=4 * short))
    for name in ("a", "b", "c", "d"):
        _store(cache, name, "x" * 100)
    _store(cache, "long", "x" * (3 * short))  # about three short answers' worth: most of them go
    assert cache.stored_bytes <= 4 * short
    assert _lookup(cache, "long").result == "hit"
    assert [_lookup(cache, name).result for name in ("a", "b", "c", "d")].count("hit") <= 1


def test_an_answer_larger_than_the_bound_is_not_stored():
    cache = ResponseCache(CacheSettings(max_bytes=200, semantic_models=["m"]), embed=_same_vector)
    _store(cache, "small", "ok")
    _store(cache, "huge", "x" * 1000)  # kept neither in the exact cache nor in the semantic index
    assert len(cache) == 1 and _lookup(cache, "small").result == "hit"
    again = _lookup(cache, "huge")  # same vector as "small": the semantic index has only that one
    assert again.result == "semantic_hit" and again.answer is not None
    assert again.answer.payload["choices"][0]["message"]["content"] == "ok"


# ---- the semantic cache's scope ------------------------------------------------------------------
def test_semantic_hits_stay_within_the_api_key():
    cache = ResponseCache(CacheSettings(semantic_models=["m"]), embed=_same_vector)
    _store(cache, "what is our refund policy", "key A's answer", owner="key_a")
    assert _lookup(cache, "refund policy?", owner="key_b").result == "miss"
    assert _lookup(cache, "refund policy?", owner="").result == "miss"  # no key is a scope of its own
    assert _lookup(cache, "refund policy?", owner="key_a").result == "semantic_hit"


def test_a_shared_semantic_cache_crosses_keys():
    cache = ResponseCache(CacheSettings(semantic_models=["m"], semantic_shared=True), embed=_same_vector)
    _store(cache, "what is our refund policy", "anyone's answer", owner="key_a")
    assert _lookup(cache, "refund policy?", owner="key_b").result == "semantic_hit"


# ---- what is not stored --------------------------------------------------------------------------
def test_an_answer_routed_by_an_experiment_is_not_stored():
    cache = ResponseCache(CacheSettings())
    _store(cache, "routed by an arm", "arm A's answer", experiment="models", arm="a")
    _store(cache, "routed by the policies", "the answer", experiment=None, arm=None)
    assert len(cache) == 1
    assert _lookup(cache, "routed by an arm").result == "miss"
    assert _lookup(cache, "routed by the policies").result == "hit"


def test_a_tool_call_with_broken_arguments_is_not_stored():
    cache = ResponseCache(CacheSettings())
    broken = {"id": "call_1", "type": "function", "function": {"name": "order_status", "arguments": '{"order_id": 10'}}
    payload = _payload("")
    payload["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [broken]}
    _lookup(cache, "where is my order").remember(payload, CallRecord(endpoint="chat", model="m"))
    assert len(cache) == 0
