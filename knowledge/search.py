"""Hybrid search over one collection: Chroma (dense) + BM25 (lexical), fused by RRF.

For a query the searcher

1. embeds it once and asks Chroma for the ``fetch_k`` nearest chunks (cosine);
2. ranks the collection's chunks with BM25 (an in-memory mirror of the collection's texts,
   rebuilt whenever the collection's revision token changes — also after writes made by
   another process, such as the CLI);
3. fuses both rankings with weighted reciprocal rank fusion — dense counts double for
   alphabetic queries, lexical counts double for Chinese ones, which MiniLM reads poorly;
4. optionally diversifies the result with MMR;
5. gives each hit an absolute **relevance** in [0, 1]: the larger of its cosine similarity to
   the query and its IDF-weighted query-term coverage — coverage alone for Chinese queries,
   since MiniLM rates any two Chinese texts as similar (0.6 for unrelated ones). Ranks say
   which chunk is best; relevance says whether even the best is any good — ``min_relevance``
   drops the rest.

Example:
    >>> searcher = HybridSearcher(chroma_client(), "shop", local_embeddings())  # doctest: +SKIP
    >>> searcher.search("How long do refunds take?", k=3)[0].heading          # doctest: +SKIP
    'Returns policy > Refunds'
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from chromadb.api import ClientAPI
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from knowledge.fusion import mmr_select, reciprocal_rank_fusion
from knowledge.lexical import LexicalIndex, cjk_share, tokenize
from knowledge.splitting import embedding_text
from knowledge.store import current_revision, iter_records, open_collection

__all__ = ["HybridSearcher", "SearchHit", "SearchMode", "SearchOptions"]

SearchMode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class SearchOptions:
    """Tuning of hybrid search.

    The defaults lean on the retriever that suits the query's script. On the English dev set
    (``bench/retrieval_eval.py``), where questions rarely repeat the answers' words, textbook
    RRF (k=60, equal weights) lowered recall@5 from 0.817 (dense alone) to 0.744; k=20 with
    lexical at half weight keeps most of dense's recall while exact terms (product names,
    codes) can still lift a chunk. For Chinese the weights swap: MiniLM reads Chinese poorly.
    """

    fetch_k: int = 30
    """Candidates taken from each retriever before fusion."""
    rrf_k: int = 20
    """Reciprocal rank fusion constant."""
    primary_weight: float = 1.0
    """RRF weight of the retriever that suits the query's script (dense for alphabetic text)."""
    secondary_weight: float = 0.5
    """RRF weight of the other retriever."""
    cjk_threshold: float = 0.3
    """Share of Chinese characters above which the lexical retriever leads."""
    mmr_lambda: float = 0.7
    """MMR trade-off when ``mmr=True``: 1 = relevance only, 0 = diversity only."""


@dataclass(frozen=True)
class SearchHit:
    """One retrieved chunk.

    Attributes:
        id: the chunk's id in Chroma.
        text: the chunk's text.
        metadata: its metadata (``source``, ``file``, ``title``, ``heading``, ``page``, ...).
        score: relevance in [0, 1] (max of cosine similarity and query-term coverage).
        rank_score: the fused RRF score that ordered the results.
        dense_score: cosine similarity to the query, when computed.
        lexical_score: BM25 score, when the chunk was in the lexical ranking.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    rank_score: float = 0.0
    dense_score: float | None = None
    lexical_score: float | None = None

    @property
    def source(self) -> str:
        """The source file's path."""
        return str(self.metadata.get("source", ""))

    @property
    def heading(self) -> str:
        """The section heading path, else the document title."""
        return str(self.metadata.get("heading") or self.metadata.get("title") or "")

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by the CLI and the server."""
        return {
            "source": self.source,
            "heading": self.heading,
            "text": self.text,
            "score": round(self.score, 4),
            "file": self.metadata.get("file", ""),
            "page": self.metadata.get("page"),
            "chunk_index": self.metadata.get("chunk_index"),
            "rank_score": round(self.rank_score, 6),
        }

    def to_document(self) -> Document:
        """A LangChain document; the scores travel in its metadata."""
        extra = {"id": self.id, "score": self.score, "rank_score": self.rank_score}
        return Document(page_content=self.text, metadata={**self.metadata, **extra}, id=self.id)


@dataclass
class _Mirror:
    """The collection's texts as of one revision, with their lexical index."""

    revision: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    index: LexicalIndex
    positions: dict[str, int]


class HybridSearcher:
    """Dense + lexical search over one Chroma collection (thread-safe)."""

    def __init__(
        self, client: ClientAPI, collection: str, embeddings: Embeddings, options: SearchOptions | None = None
    ):
        self._client = client
        self._collection = open_collection(client, collection, create=False)
        self._embeddings = embeddings
        self.options = options or SearchOptions()
        self._mirror: _Mirror | None = None
        self._lock = threading.Lock()

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: SearchMode = "hybrid",
        mmr: bool = False,
        min_relevance: float = 0.0,
    ) -> list[SearchHit]:
        """The ``k`` best chunks for ``query``.

        Args:
            query: the question or keywords.
            k: how many hits at most.
            mode: ``"hybrid"`` (default), ``"dense"`` only or ``"lexical"`` only.
            mmr: diversify the hits with maximal marginal relevance.
            min_relevance: drop hits whose relevance (``SearchHit.score``) is lower.

        Returns:
            Hits, best first; fewer than ``k`` when the collection is small or hits fall
            below ``min_relevance``.
        """
        mirror = self._fresh_mirror()
        if not query.strip() or k <= 0 or not mirror.ids:
            return []
        chinese = cjk_share(query) >= self.options.cjk_threshold
        vector = None if mode == "lexical" else np.asarray(self._embeddings.embed_query(query))
        terms = tokenize(query)
        fetch = max(self.options.fetch_k, k)
        dense = self._dense(vector, fetch) if vector is not None else {}
        lexical = dict(mirror.index.search(terms, fetch)) if mode != "dense" else {}
        fused = dict(self._fuse(chinese, mode, dense, lexical, mirror))
        chosen, similarity = self._select(list(fused), fused, dense, vector, k=k, mmr=mmr, fetch=fetch)
        hits = [self._hit(c, similarity.get(c), terms, mirror, fused[c], lexical, chinese) for c in chosen]
        return [hit for hit in hits if hit.score >= min_relevance]

    def _select(
        self,
        ranked: list[str],
        fused: dict[str, float],
        dense: dict[str, float],
        vector: np.ndarray | None,
        *,
        k: int,
        mmr: bool,
        fetch: int,
    ) -> tuple[list[str], dict[str, float]]:
        """The final ``k`` ids (MMR-reordered if asked) and every chosen id's cosine similarity."""
        candidates = ranked[: fetch if mmr else k]
        similarity = dict(dense)
        if vector is None:
            return candidates[:k], similarity
        vectors = self._vectors(candidates if mmr else [c for c in candidates if c not in dense])
        similarity.update({chunk: float(vector @ v) for chunk, v in vectors.items()})
        if mmr:
            relevance = [fused[c] for c in candidates]
            order = mmr_select(
                relevance, [vectors[c] for c in candidates], k=k, lambda_mult=self.options.mmr_lambda
            )
            candidates = [candidates[position] for position in order]
        return candidates[:k], similarity

    def _dense(self, vector: np.ndarray, limit: int) -> dict[str, float]:
        """Chunk id → cosine similarity for the ``limit`` nearest chunks."""
        found = self._collection.query(
            query_embeddings=[vector.tolist()], n_results=limit, include=["distances"]
        )
        return {
            i: 1.0 - float(d) for i, d in zip(found["ids"][0], (found["distances"] or [[]])[0], strict=True)
        }

    def _fuse(
        self,
        chinese: bool,
        mode: SearchMode,
        dense: dict[str, float],
        lexical: dict[int, float],
        mirror: _Mirror,
    ) -> list[tuple[str, float]]:
        dense_ranking = [i for i in dense if i in mirror.positions]
        lexical_ranking = [mirror.ids[position] for position in lexical]
        if mode != "hybrid":
            ranking = dense_ranking if mode == "dense" else lexical_ranking
            return [(item, 1.0 / (self.options.rrf_k + rank)) for rank, item in enumerate(ranking, 1)]
        high, low = self.options.primary_weight, self.options.secondary_weight
        weights = (low, high) if chinese else (high, low)
        return reciprocal_rank_fusion([dense_ranking, lexical_ranking], k=self.options.rrf_k, weights=weights)

    def _vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        found = self._collection.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(v) for i, v in zip(found["ids"], found["embeddings"], strict=True)}  # type: ignore[arg-type]

    @staticmethod
    def _hit(
        chunk: str,
        dense_score: float | None,
        terms: list[str],
        mirror: _Mirror,
        rank_score: float,
        lexical: dict[int, float],
        chinese: bool,
    ) -> SearchHit:
        position = mirror.positions[chunk]
        coverage = mirror.index.coverage(terms, position)
        relevance = coverage if chinese else max(dense_score or 0.0, coverage)
        return SearchHit(
            id=chunk,
            text=mirror.texts[position],
            metadata=dict(mirror.metadatas[position]),
            score=relevance,
            rank_score=rank_score,
            dense_score=dense_score,
            lexical_score=lexical.get(position),
        )

    def _fresh_mirror(self) -> _Mirror:
        """The lexical mirror, rebuilt first if the collection changed since it was built."""
        revision = current_revision(self._client, self._collection.name)
        with self._lock:
            if self._mirror is None or self._mirror.revision != revision:
                self._mirror = self._build_mirror(revision)
            return self._mirror

    def _build_mirror(self, revision: str) -> _Mirror:
        ids, texts, metadatas = [], [], []
        for chunk, metadata, text in iter_records(self._collection, include=["metadatas", "documents"]):
            ids.append(chunk)
            texts.append(text or "")
            metadatas.append(metadata)
        indexed = [
            embedding_text(Document(page_content=t, metadata=m))
            for t, m in zip(texts, metadatas, strict=True)
        ]
        return _Mirror(
            revision,
            ids,
            texts,
            metadatas,
            LexicalIndex(indexed),
            {chunk: position for position, chunk in enumerate(ids)},
        )
