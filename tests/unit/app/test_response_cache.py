"""The response cache's parts without a server: the exact key, the cache modes, storing rules,
and the semantic index (TTL and eviction driven by an explicit clock, not by sleeping)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from app.server.gateway.cache import NOT_CONSULTED, CacheSettings, ResponseCache, normalise, request_key
from app.server.gateway.semantic_index import SemanticIndex
from app.server.http.errors import ApiError
from app.server.http.schemas import ChatCompletionRequest
from store.request_log import CallRecord


def _body(text: str = "hi", **fields) -> ChatCompletionRequest:
    return ChatCompletionRequest(model=fields.pop("model", "m"), messages=[{"role": "user", "content": text}], **fields)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---- the exact key -----------------------------------------------------------------------------
def test_the_key_ignores_what_cannot_change_the_answer():
    base = request_key(_body(temperature=0.5, max_tokens=9))
    assert (
        request_key(
            _body(
                temperature=0.5,
                max_completion_tokens=9,
                stream=True,
                user="u",
                modelyard_cache="exact",
                stream_options={"include_usage": True},
            )
        )
        == base
    )
    assert request_key(_body(max_tokens=9, temperature=0.5)) == base
    # a field the gateway does not know is forwarded to the model, so it can change the answer
    unknown = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5, "max_tokens": 9, "x": 1}
    )
    assert request_key(unknown) != base


@pytest.mark.parametrize(
    "changed",
    [
        {"temperature": 0.6, "max_tokens": 9},
        {"temperature": 0.5, "max_tokens": 10},
        {"temperature": 0.5, "max_tokens": 9, "top_p": 0.9},
        {"temperature": 0.5, "max_tokens": 9, "model": "other"},
        {"temperature": 0.5, "max_tokens": 9, "task": "code"},
        {"temperature": 0.5, "max_tokens": 9, "seed": 7},
        {"temperature": 0.5, "max_tokens": 9, "stop": ["\n"]},
        {"temperature": 0.5, "max_tokens": 9, "response_format": {"type": "json_object"}},
        {"temperature": 0.5, "max_tokens": 9, "tools": [{"type": "function", "function": {"name": "f"}}]},
        {"temperature": 0.5, "max_tokens": 9, "max_cost": 0.01},
        {"temperature": 0.5, "max_tokens": 9, "text": "hi!"},
    ],
)
def test_the_key_changes_with_what_can_change_the_answer(changed):
    assert request_key(_body(**changed)) != request_key(_body(temperature=0.5, max_tokens=9))


def test_the_scope_joins_the_key():
    assert request_key(_body(), ["a"]) != request_key(_body()) != request_key(_body(), ["b"])


def test_normalise_for_the_semantic_cache():
    assert normalise("  What's   the Capital of FRANCE?! ") == "what's the capital of france"
    assert normalise("法国的首都是哪里？") == "法国的首都是哪里"
    assert normalise("ＡＢＣ") == "abc"  # NFKC folds full-width letters


# ---- modes and storing ---------------------------------------------------------------------------
def _lookup(cache: ResponseCache, body: ChatCompletionRequest, headers: dict | None = None):
    return asyncio.run(cache.lookup(body, headers or {}))


ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}


def _remember(lookup, status: int = 200) -> None:
    lookup.remember({**ANSWER, "modelyard_route": {}}, CallRecord(endpoint="chat", model="m", status=status))


def test_exact_hits_misses_and_the_counter():
    counted: list[tuple[str, str]] = []
    cache = ResponseCache(CacheSettings(), on_lookup=lambda kind, result: counted.append((kind, result)))
    first = _lookup(cache, _body())
    assert (first.result, first.headers) == ("miss", {"x-modelyard-cache": "miss"})
    _remember(first)
    hit = _lookup(cache, _body())
    assert hit.result == "hit" and hit.answer is not None and hit.answer.model == "m" and len(cache) == 1
    assert counted == [("exact", "miss"), ("exact", "hit")]


def test_failed_answers_are_not_stored():
    cache = ResponseCache(CacheSettings())
    _remember(_lookup(cache, _body()), status=502)
    assert len(cache) == 0 and _lookup(cache, _body()).result == "miss"


@pytest.mark.parametrize(
    ("headers", "field", "stored"),
    [
        ({"cache-control": "no-cache"}, None, True),
        ({"cache-control": "no-store"}, None, False),
        ({"x-modelyard-cache": "off"}, None, False),
        ({}, False, False),
    ],
)
def test_bypasses(headers, field, stored):
    cache = ResponseCache(CacheSettings())
    _remember(_lookup(cache, _body()))
    bypassed = _lookup(cache, _body(modelyard_cache=field), headers)
    assert bypassed.result == "bypass" and bypassed.answer is None
    cache2 = ResponseCache(CacheSettings())
    _remember(_lookup(cache2, _body(modelyard_cache=field), headers))
    assert (len(cache2) == 1) is stored


def test_opt_in_only_and_disabled_caches():
    opt_in = ResponseCache(CacheSettings(exact_by_default=False))
    assert _lookup(opt_in, _body()) is NOT_CONSULTED and NOT_CONSULTED.headers == {}
    _remember(NOT_CONSULTED)  # nothing to store into
    assert _lookup(opt_in, _body(modelyard_cache=True)).result == "miss"
    assert _lookup(opt_in, _body(), {"x-modelyard-cache": "exact"}).kind == "exact"
    disabled = ResponseCache(CacheSettings(enabled=False))
    assert _lookup(disabled, _body(modelyard_cache="semantic")) is NOT_CONSULTED


def test_an_unknown_header_value_is_a_400():
    with pytest.raises(ApiError) as refused:
        _lookup(ResponseCache(CacheSettings()), _body(), {"x-modelyard-cache": "maybe"})
    assert refused.value.status == 400 and refused.value.param == "x-modelyard-cache"


def test_semantic_lookups_use_the_embedding_and_the_partition():
    vectors = {"capital of france": [1.0, 0.0], "france capital": [0.98, 0.199], "bread": [0.0, 1.0]}
    embedded: list[str] = []

    def embed(text: str) -> np.ndarray:
        embedded.append(text)
        return np.asarray(vectors[text], dtype=np.float32)

    cache = ResponseCache(CacheSettings(semantic_models=["m"]), embed=embed)
    first = _lookup(cache, _body("Capital of France?"))
    assert first.kind == "semantic" and first.result == "miss"
    _remember(first)
    paraphrase = _lookup(cache, _body("France capital"))
    assert paraphrase.result == "semantic_hit" and paraphrase.similarity == pytest.approx(0.98, abs=1e-4)
    assert _lookup(cache, _body("bread")).result == "miss"
    assert _lookup(cache, _body("France capital", temperature=1.0)).result == "miss"  # other partition
    assert embedded == ["capital of france", "france capital", "bread", "france capital"]
    assert _lookup(cache, _body("Capital of France?")).result == "hit"  # exact first: no embedding
    assert _lookup(cache, _body("France capital", modelyard_cache="exact")).kind == "exact"  # opts out
    assert len(embedded) == 4


# ---- the semantic index --------------------------------------------------------------------------
def _unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_index_search_respects_partition_and_threshold():
    index = SemanticIndex(capacity=10, dimensions=2, ttl_seconds=60)
    index.add(1, _unit(1, 0), "east")
    index.add(1, _unit(0, 1), "north")
    assert index.search(1, _unit(1, 0.1), threshold=0.99) == ("east", pytest.approx(0.995, abs=1e-3))
    assert index.search(1, _unit(1, 1), threshold=0.9) is None  # 0.707 from both
    assert index.search(2, _unit(1, 0), threshold=0.5) is None
    index.add(1, _unit(1, 0), "east again")  # the same vector replaces its row
    assert len(index) == 2 and index.search(1, _unit(1, 0), 0.99)[0] == "east again"


def test_index_rows_expire():
    clock = Clock()
    index = SemanticIndex(capacity=10, dimensions=2, ttl_seconds=5, timer=clock)
    index.add(1, _unit(1, 0), "old")
    clock.now += 4.9
    assert index.search(1, _unit(1, 0), 0.9)[0] == "old"
    clock.now += 0.2
    assert index.search(1, _unit(1, 0), 0.9) is None and len(index) == 0


def test_index_grows_then_evicts_the_least_recently_used():
    clock = Clock()
    index = SemanticIndex(capacity=100, dimensions=3, ttl_seconds=1e6, timer=clock)
    for i in range(100):  # past the first 64 rows: the arrays grow
        clock.now += 1
        index.add(i, _unit(1, 0, 0), i)
    assert len(index) == 100
    clock.now += 1
    assert index.search(0, _unit(1, 0, 0), 0.9)[0] == 0  # row 0 used again: row 1 is now the oldest
    clock.now += 1
    index.add(500, _unit(0, 1, 0), "new")
    assert len(index) == 100
    assert index.search(1, _unit(1, 0, 0), 0.9) is None
    assert index.search(0, _unit(1, 0, 0), 0.9)[0] == 0 and index.search(500, _unit(0, 1, 0), 0.9)[0] == "new"


def test_index_reuses_expired_rows_before_evicting():
    clock = Clock()
    index = SemanticIndex(capacity=2, dimensions=2, ttl_seconds=10, timer=clock)
    index.add(1, _unit(1, 0), "a")
    clock.now += 5
    index.add(2, _unit(1, 0), "b")
    clock.now += 6  # "a" has expired, "b" has not
    index.add(3, _unit(1, 0), "c")
    assert index.search(2, _unit(1, 0), 0.9)[0] == "b" and index.search(3, _unit(1, 0), 0.9)[0] == "c"
