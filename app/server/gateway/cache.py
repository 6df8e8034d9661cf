"""The gateway's response cache for ``/v1/chat/completions``: exact, and semantic on request.

**Exact** (on by default): the key is the SHA-256 of everything in the request that can change
the answer — model, messages, the generation parameters, Modelyard's routing hints
(``max_cost``, ``task``), and any other field the request schema gains (tools, stop, ...) — but
not ``stream``, ``stream_options``, ``user`` or ``modelyard_cache``. The request is serialised
by its pydantic schema (fixed field order, ``None`` left out) and the parameters are canonical,
so ``max_tokens`` and ``max_completion_tokens`` are one key; a hit costs tens of microseconds.
Entries live in a ``cachetools.TTLCache`` (LRU + TTL, in memory; with ``REDIS_URL`` in Redis,
shared by every replica, see :mod:`~app.server.gateway.cache_redis`) bounded by the bytes of the stored
answers (``CacheSettings.max_bytes``), not by their count: a few long answers cannot take the memory
that thousands of short ones would; an answer larger than the whole bound is not stored. Like
LiteLLM and Portkey, a request is cached whatever its temperature: turning the cache on says "the
same request may get the same answer".

**Semantic** (opt-in per request with ``"modelyard_cache": "semantic"`` or the header
``x-modelyard-cache: semantic``, or for every request to a model listed in
``CacheSettings.semantic_models`` unless the request says ``"exact"``): the last user message,
normalised (NFKC, lower case, spaces, trailing punctuation), is embedded with the local MiniLM in
a worker thread; it matches a stored answer of the *same partition* (model, parameters and every
other message identical) when the cosine is at least ``semantic_threshold``. The partition also holds
the caller's API key id (no key is a scope of its own), so one key's answer never reaches a
differently worded question of another key — a paraphrase match is a guess about what the caller
meant, and it should not hand one tenant another tenant's answer; ``semantic_shared`` turns that
off. One bounded :class:`SemanticIndex` per model. A request that declares ``tools`` (or legacy ``functions``) or a
``response_format`` other than text is looked up exactly only: its answer is read out of the
question — a tool call's arguments, the fields of an extraction — so a near-paraphrase such as
"status of order 1042?" vs "… 1043?" (cosine above 0.95) would get a call for the wrong order.

**What is stored**: successful, non-streamed answers only (a stream may be cut by the client or
end in an error after its first chunk), and only those :func:`~app.server.http.cache_replay.replayable`
renders faithfully both as JSON and as SSE. Tool-call answers are stored: the key holds the whole
conversation and every tool declaration, so only the same request can get the same call, and
running the call stays the client's job (a call whose arguments are not a JSON object is not
stored: a retry gets a fresh try instead of the same broken call). So are ``n`` > 1 answers (all choices; the promise is
the one above: the same request may get the same samples) and their ``logprobs``. A streamed
request is still *served* from the cache: the stored answer is replayed as a short SSE stream.
An answer routed by an A/B experiment is never stored: the key leaves out ``user``, which picks the
arm, so a hit would hand one user another arm's answer, and every request of an experiment is
an observation of its arm (latency, cost, feedback by request id) that a replay is not.

**Skipping it**: ``"modelyard_cache": false``, ``x-modelyard-cache: off`` or
``Cache-Control: no-store`` neither read nor write; ``Cache-Control: no-cache`` skips the read
and stores the fresh answer (a refresh of the exact entry). Either way the result is ``bypass``.

Every consulted request gets the header ``x-modelyard-cache: hit | semantic_hit | miss |
bypass``, the same value in the request log's ``cache`` column, and one increment of
``modelyard_cache_requests_total{kind, result}``. Exact entries are shared by every caller of
the gateway (as in LiteLLM): only a caller who sends the same request can get the answer; a
consumer key limited to some models has entries of its own (``scope``).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
from cachetools import TTLCache
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from app.server.gateway.semantic_index import SemanticIndex
from app.server.http.cache_replay import replayable
from app.server.http.errors import ApiError
from app.server.http.schemas import ChatCompletionRequest
from store.request_log import CallRecord

__all__ = [
    "CACHE_HEADER",
    "NOT_CONSULTED",
    "CacheLookup",
    "CacheSettings",
    "CachedAnswer",
    "ResponseCache",
    "normalise",
    "request_fields",
    "request_key",
]

CACHE_HEADER = "x-modelyard-cache"
"""Request header choosing the cache mode; response header with the result."""

_HEADER_MODES = ("exact", "semantic", "off")
_NOT_IN_KEY = {
    "stream",
    "stream_options",
    "user",
    "modelyard_cache",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
}  # the last four enter the key as the canonical ``params``
_TOOL_FIELDS = ("tools", "functions")
"""Tool declarations (``functions`` is OpenAI's legacy name): such a request is looked up exactly only."""
_SPACES = re.compile(r"\s+")
_TRAILING = "?!.。？！ "


class CacheSettings(BaseModel):
    """How the gateway caches chat answers (``GatewaySettings.cache``).

    Example:
        >>> CacheSettings(ttl_seconds=60, semantic_models=["auto"]).semantic_threshold
        0.95
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    """Master switch: ``False`` never consults the cache and sends no ``x-modelyard-cache`` header."""
    exact_by_default: bool = True
    """Consult the exact cache without an opt-in; ``False`` caches only requests that ask for it."""
    ttl_seconds: float = Field(300.0, gt=0)
    """Lifetime of an entry. Five minutes: long enough for retries, double submits and repeated
    batch/agent calls, short enough that an answer does not outlive a catalog or prompt change."""
    max_bytes: int = Field(64 * 2**20, gt=0)
    """Total size of the stored exact answers (their JSON bytes; least recently used evicted first).
    64 MiB holds tens of thousands of typical answers; an answer larger than this is not stored."""
    semantic_models: list[str] = []
    """Models (catalog names or ``auto``) whose requests use the semantic cache without an opt-in."""
    semantic_threshold: float = Field(0.95, gt=0, le=1)
    """Smallest cosine between two normalised last questions that counts as the same question.
    Measured on MiniLM: paraphrases of one question 0.95-0.99, "open on Sunday?" vs "open on
    Monday?" 0.93, so lower values start answering different questions."""
    semantic_max_entries: int = Field(2_000, gt=0)
    """Semantic entries kept per model (least recently used evicted). The semantic index lives in each
    replica's memory, also with ``REDIS_URL`` (where the exact entries are shared)."""
    semantic_shared: bool = False
    """Let a semantic hit cross API keys (one scope for every caller). Off: each key (and keyless
    callers together) match only their own earlier questions."""


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A stored answer: the OpenAI JSON body as first served, and what it cost."""

    payload: dict[str, Any]
    model: str
    deployment: str
    route_reason: str
    cost_usd: float
    stored_at: float
    size: int
    """Bytes of ``payload`` as JSON: what the entry weighs against ``CacheSettings.max_bytes``."""


@dataclass(slots=True)
class CacheLookup:
    """What the cache said about one request; :meth:`remember` stores its fresh answer.

    ``kind`` is ``exact`` or ``semantic`` (``""`` when the cache was not consulted), ``result`` is
    ``hit``, ``semantic_hit``, ``miss`` or ``bypass``.
    """

    kind: str = ""
    result: str = ""
    answer: CachedAnswer | None = None
    similarity: float | None = None
    cache: ResponseCache | None = None
    key: str | None = None
    """The exact key to store under; ``None`` = do not store."""
    semantic: tuple[SemanticIndex, int, np.ndarray] | None = None
    """Where to add the answer in the semantic index: ``(index, partition, vector)``."""

    @property
    def headers(self) -> dict[str, str]:
        """``{"x-modelyard-cache": result}`` when the cache was consulted."""
        return {CACHE_HEADER: self.result} if self.result else {}

    def remember(self, payload: dict[str, Any], call: CallRecord) -> None:
        """Store a successful answer that replays faithfully and was not routed by an A/B experiment
        (``payload`` must not be changed afterwards)."""
        if self.cache is None or self.key is None or call.status != 200 or not replayable(payload):
            return
        if (payload.get("modelyard_route") or {}).get("experiment"):
            return  # see the module docstring: a hit would cross arms and bypass the experiment
        size = len(orjson.dumps(payload))
        answer = CachedAnswer(payload, call.model, call.deployment, call.route_reason, call.cost_usd, time.time(), size)
        self.cache.store(self, answer)


class ExactAnswers(Protocol):
    """Where exact entries live: this process or Redis (bounded by TTL and bytes either way)."""

    async def get(self, key: str) -> CachedAnswer | None: ...
    def put(self, key: str, answer: CachedAnswer) -> None: ...
    def __len__(self) -> int: ...
    @property
    def stored_bytes(self) -> int: ...
    def close(self) -> None: ...


class LocalExactAnswers:
    """Exact entries in this process: a ``cachetools.TTLCache`` weighed in answer bytes (LRU + TTL)."""

    def __init__(self, ttl_seconds: float, max_bytes: int):
        self._entries: TTLCache[str, CachedAnswer] = TTLCache(max_bytes, ttl_seconds, getsizeof=_size_of)

    async def get(self, key: str) -> CachedAnswer | None:
        return self._entries.get(key)

    def put(self, key: str, answer: CachedAnswer) -> None:
        self._entries[key] = answer

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def stored_bytes(self) -> int:
        return int(self._entries.currsize)

    def close(self) -> None:
        """Nothing to let go of."""


NOT_CONSULTED = CacheLookup()
"""The lookup of a request that did not consult the cache (no header, nothing stored)."""


class ResponseCache:
    """Exact and semantic caches of chat answers, in memory.

    Args:
        settings: TTL, sizes, threshold and defaults.
        on_lookup: called with ``(kind, result)`` once per consulted request (the metrics).
        embed: text → unit vector; default the local MiniLM (loaded on the first semantic lookup).
        exact: where exact entries live; default this process (:class:`LocalExactAnswers`), with
            ``REDIS_URL`` every replica's Redis (:class:`~app.server.gateway.cache_redis.RedisExactAnswers`).

    Example:
        >>> cache = ResponseCache(CacheSettings(ttl_seconds=60))
        >>> body = ChatCompletionRequest(model="auto", messages=[{"role": "user", "content": "hi"}])
        >>> lookup = asyncio.run(cache.lookup(body, {}))  # doctest: +SKIP
        >>> lookup.result  # doctest: +SKIP
        'miss'
    """

    def __init__(
        self,
        settings: CacheSettings,
        on_lookup: Callable[[str, str], None] | None = None,
        embed: Callable[[str], np.ndarray] | None = None,
        exact: ExactAnswers | None = None,
    ):
        self.settings = settings
        self._on_lookup = on_lookup or (lambda kind, result: None)
        self._embed = embed or _minilm
        self._exact: ExactAnswers = (
            LocalExactAnswers(settings.ttl_seconds, settings.max_bytes) if exact is None else exact
        )
        self._semantic: dict[str, SemanticIndex] = {}

    def __len__(self) -> int:
        return len(self._exact)

    @property
    def stored_bytes(self) -> int:
        """Bytes of the exact answers held now (at most ``settings.max_bytes``)."""
        return self._exact.stored_bytes

    def close(self) -> None:
        """Send what the exact store has queued and let go of its connections."""
        self._exact.close()

    async def lookup(
        self, body: ChatCompletionRequest, headers: Mapping[str, str], scope: Any = None, owner: str = ""
    ) -> CacheLookup:
        """Consult the cache for ``body``: a stored answer, or how to store the fresh one.

        ``scope`` (JSON-able) joins the key when set: the consumer key's model list, so a key
        limited to some models never gets an answer another model wrote. ``owner`` (the API key's
        id, ``""`` without one) joins the semantic partition unless ``settings.semantic_shared``.

        Raises:
            ApiError: 400 for an unknown ``x-modelyard-cache`` value.
        """
        mode = self._mode(body, headers)
        if mode is None:
            return NOT_CONSULTED
        kind, read, write = mode
        key = request_key(body, scope)
        if not read:
            self._on_lookup(kind, "bypass")
            return CacheLookup(kind, "bypass", cache=self, key=key if write else None)
        answer = await self._exact.get(key)
        if answer is not None:
            self._on_lookup(kind, "hit")
            return CacheLookup(kind, "hit", answer=answer)
        lookup = CacheLookup(kind, "miss", cache=self, key=key)
        if kind == "semantic":
            fields = request_fields(body)
            fields["scope"] = scope
            fields["owner"] = None if self.settings.semantic_shared else owner
            await self._semantic_lookup(body.model, fields, lookup)
        self._on_lookup(kind, lookup.result)
        return lookup

    def store(self, lookup: CacheLookup, answer: CachedAnswer) -> None:
        """Keep ``answer`` under the lookup's exact key and, for semantic requests, its vector; an
        answer larger than ``settings.max_bytes`` is kept nowhere."""
        if answer.size > self.settings.max_bytes:
            return
        if lookup.key is not None:
            self._exact.put(lookup.key, answer)
        if lookup.semantic is not None:
            index, partition, vector = lookup.semantic
            index.add(partition, vector, answer)

    def _mode(self, body: ChatCompletionRequest, headers: Mapping[str, str]) -> tuple[str, bool, bool] | None:
        """``(kind, read, write)`` for this request, or ``None`` when the cache is not consulted."""
        if not self.settings.enabled:
            return None
        asked = (headers.get(CACHE_HEADER) or "").strip().lower()
        if asked and asked not in _HEADER_MODES:
            raise ApiError(
                400,
                f"{CACHE_HEADER} must be one of {', '.join(_HEADER_MODES)} (got {asked!r})",
                param=CACHE_HEADER,
                code="invalid_cache_mode",
            )
        wanted = body.modelyard_cache
        exact_only = "exact" in (asked, wanted)  # overrides a model's semantic default
        semantic = "semantic" in (asked, wanted) or (body.model in self.settings.semantic_models and not exact_only)
        if not (semantic or exact_only or self.settings.exact_by_default or wanted is True):
            return None
        kind = "semantic" if semantic else "exact"
        control = (headers.get("cache-control") or "").lower()
        if wanted is False or asked == "off" or "no-store" in control:
            return kind, False, False
        if "no-cache" in control:
            return kind, False, True
        return kind, True, True

    async def _semantic_lookup(self, model: str, fields: dict[str, Any], lookup: CacheLookup) -> None:
        found = None if _answer_reads_the_question(fields) else _last_question(fields)
        if found is None:  # tools or a response format, no user message, or one with images: exact only
            return
        question, partition = found
        vector = await run_in_threadpool(self._embed, normalise(question))
        index = self._semantic.get(model)
        if index is None:
            index = self._semantic[model] = SemanticIndex(
                self.settings.semantic_max_entries, len(vector), self.settings.ttl_seconds
            )
        lookup.semantic = (index, partition, vector)
        hit = index.search(partition, vector, self.settings.semantic_threshold)
        if hit is not None:
            lookup.answer, lookup.similarity = hit
            lookup.result, lookup.cache, lookup.key, lookup.semantic = "semantic_hit", None, None, None


def request_fields(body: ChatCompletionRequest) -> dict[str, Any]:
    """The parts of ``body`` that can change the answer, in a canonical form."""
    fields = body.model_dump(mode="json", exclude=_NOT_IN_KEY, exclude_none=True)
    fields["params"] = body.params()
    return fields


def request_key(body: ChatCompletionRequest, scope: Any = None) -> str:
    """The exact-cache key of ``body`` (and ``scope``): SHA-256 of its compact JSON without the
    fields that do not change the answer, plus the canonical parameters (about 10 µs).

    Example:
        >>> one = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        >>> two = ChatCompletionRequest(model="m", messages=[{"role": "user", "content": "hi"}],
        ...                             max_completion_tokens=5, stream=True, user="u1")
        >>> request_key(one) == request_key(two)
        True
    """
    canonical = body.model_dump_json(exclude=_NOT_IN_KEY, exclude_none=True)
    extra = repr((sorted(body.params().items()), scope))  # numbers and strings: repr is canonical, and cheap
    return hashlib.sha256(f"{canonical}\n{extra}".encode()).hexdigest()


def normalise(text: str) -> str:
    """The question as the semantic cache embeds it: NFKC, lower case, single spaces, no trailing
    punctuation (on MiniLM this lifts paraphrase similarity by about 0.02-0.07)."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip().rstrip(_TRAILING)


def _digest(fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _answer_reads_the_question(fields: dict[str, Any]) -> bool:
    """Whether the request asks for tool calls or structured output (see the module docstring)."""
    response_format = fields.get("response_format") or {}
    structured = bool(response_format) and response_format.get("type") != "text"
    return structured or any(fields.get(name) for name in _TOOL_FIELDS)


def _last_question(fields: dict[str, Any]) -> tuple[str, int] | None:
    """The last user message's text and the partition: a 63-bit hash of everything else."""
    messages = fields.get("messages", [])
    last = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None)
    if last is None:
        return None
    content = messages[last].get("content") or ""
    if isinstance(content, list):
        if any(part.get("type") != "text" for part in content):
            return None
        content = " ".join(str(part.get("text", "")) for part in content)
    rest = {**fields, "messages": [*messages[:last], {"role": "user"}, *messages[last + 1 :]]}
    partition = int(_digest(rest)[:16], 16) >> 1  # fits a signed int64
    return content, partition


def _size_of(answer: CachedAnswer) -> int:
    return answer.size


def _minilm(text: str) -> np.ndarray:
    from models.embeddings import local_embeddings

    return np.asarray(local_embeddings().embed_query(text), dtype=np.float32)
