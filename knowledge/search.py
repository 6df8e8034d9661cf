"""Hybrid search over one collection: Chroma (dense) + BM25 (lexical), fused by score.

For a query the searcher

1. embeds it once and asks Chroma for the ``fetch_k`` nearest chunks (cosine), and compares it
   with the **section headings** too: the first chunk of every section has a second vector, its
   heading alone (the question, in an FAQ), so a query that restates a question meets it
   directly instead of through the question-plus-answer text. A chunk's dense score is the
   larger of its body and heading cosines;
2. scores the collection's chunks with BM25 (an in-memory mirror of the collection's texts,
   rebuilt whenever the collection's revision token changes — also after writes made by
   another process, such as the CLI) and takes the ``fetch_k`` best;
3. scores every candidate of any list on *both* signals (cosine for BM25-only candidates from
   their stored vectors, BM25 for dense-only ones) and fuses them as a convex combination of
   z-scores (:func:`knowledge.fusion.score_fusion`) — dense leads for alphabetic queries,
   lexical for Chinese ones, which MiniLM reads poorly, and dense leads further when the
   query's best dense match is a section heading (:func:`knowledge.fusion.fusion_weights`);
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

from knowledge.fusion import fusion_weights, mmr_select, reciprocal_rank_fusion, score_fusion
from knowledge.lexical import LexicalIndex, cjk_share, tokenize
from knowledge.splitting import embedding_text
from knowledge.store import PAGE_SIZE, current_revision, iter_records, open_collection

__all__ = ["FusionMethod", "HybridSearcher", "SearchHit", "SearchMode", "SearchOptions"]

SearchMode = Literal["hybrid", "dense", "lexical"]
FusionMethod = Literal["score", "rrf"]


@dataclass(frozen=True)
class SearchOptions:
    """Tuning of hybrid search.

    The defaults lean on the retriever that suits the query's script. Score fusion with the
    primary retriever at 0.75 is the usual convex-combination default (dense weight 0.75, as in
    Weaviate's hybrid search), not a value fitted to our data. ``bench/retrieval_eval.py``
    checks it on two collections with opposite strengths: English FAQ answers, where questions
    rarely repeat the answers' words (dense recall@5 0.817, BM25 0.654), and the same answers
    in Swedish, which MiniLM reads poorly (dense 0.376, BM25 0.491). Score fusion scored 0.819
    and 0.493; the earlier RRF (k=20, lexical at half weight) 0.783 and 0.465, below dense
    alone on English. Shares from 0.7 to 0.85 all stay within 0.015 of dense on English, and
    lower shares trade English recall for Swedish (0.5: 0.767 and 0.525).

    Raises:
        ValueError: for a share or weight outside its range, or a non-positive ``fetch_k``.

    Example:
        >>> SearchOptions(fusion="rrf").fusion
        'rrf'
    """

    fetch_k: int = 30
    """Candidates taken from each retriever before fusion."""
    fusion: FusionMethod = "score"
    """``"score"``: convex combination of z-normalised scores (default); ``"rrf"``: weighted
    reciprocal rank fusion, the earlier default, kept for comparison."""
    primary_share: float = 0.75
    """Score fusion: weight of the retriever that suits the query's script (dense for
    alphabetic text, lexical for Chinese); the other retriever gets ``1 - primary_share``."""
    rrf_k: int = 20
    """RRF only: the reciprocal rank fusion constant."""
    primary_weight: float = 1.0
    """RRF only: weight of the retriever that suits the query's script."""
    secondary_weight: float = 0.5
    """RRF only: weight of the other retriever."""
    cjk_threshold: float = 0.3
    """Share of Chinese characters above which the lexical retriever leads."""
    mmr_lambda: float = 0.7
    """MMR trade-off when ``mmr=True``: 1 = relevance only, 0 = diversity only."""
    heading_share: float = 0.9
    """Score fusion: dense weight for an alphabetic query whose best dense match is a section heading
    (question meets question); ``primary_share`` otherwise. Chosen by ``bench/faq_eval.py`` on the fitting
    half of two FAQ corpora (Python FAQ, Zaragoza chapters), never on their untouched half: 0.9 on both
    halves together; each source held out picked 0.85 or 0.95. At 0.75, BM25 overturned correct heading
    matches of paraphrases that share few words with their question."""
    heading_vectors: bool = True
    """Also match the query against section headings on their own (the first chunk of each headed
    section scores the larger of its body and heading cosines); ``False`` ranks by bodies only."""

    def __post_init__(self) -> None:
        if self.fetch_k < 1:
            raise ValueError(f"fetch_k must be at least 1 (got {self.fetch_k})")
        if self.fusion not in ("score", "rrf"):
            raise ValueError(f"fusion must be 'score' or 'rrf' (got {self.fusion!r})")
        for name in ("primary_share", "heading_share", "cjk_threshold", "mmr_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1 (got {getattr(self, name)})")
        if self.primary_weight < 0 or self.secondary_weight < 0 or self.rrf_k < 0:
            raise ValueError("rrf_k, primary_weight and secondary_weight must not be negative")


@dataclass(frozen=True)
class SearchHit:
    """One retrieved chunk.

    Attributes:
        id: the chunk's id in Chroma.
        text: the chunk's text.
        metadata: its metadata (``source``, ``file``, ``title``, ``heading``, ``page``, ...).
        score: relevance in [0, 1] (max of cosine similarity and query-term coverage).
        rank_score: the score that ordered the results: the fused score in hybrid mode (a
            weighted sum of z-scores, or the RRF score), the cosine or BM25 score in a single mode.
        dense_score: cosine similarity of the chunk's text to the query, when computed.
        heading_score: cosine similarity of its section heading to the query (first chunks of
            headed sections only); ranking uses the larger of the two, relevance the first.
        lexical_score: BM25 score, when lexical search ran and the chunk matched a query term.
    """

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    score: float = 0.0
    rank_score: float = 0.0
    dense_score: float | None = None
    heading_score: float | None = None
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
    """The collection's texts and vectors as of one revision, with their lexical index.

    The vectors (about 1.5 KB a chunk for MiniLM) let fusion score BM25-only candidates on
    cosine too without a Chroma round trip per query (about 1.5 ms for 30 chunks).
    """

    revision: str
    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    index: LexicalIndex
    positions: dict[str, int]
    vectors: dict[str, np.ndarray]
    headed: list[str] = field(default_factory=list)
    """Ids of the first chunks of sections with a heading, in the rows of ``heading_matrix``."""
    heading_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    """One row per ``headed`` chunk: the embedding of its section's own heading."""


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
        self._heading_vectors: dict[str, np.ndarray] = {}
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
        similarity = self._dense(vector, fetch, mirror) if vector is not None else {}
        headings = self._heading_scores(vector, mirror) if vector is not None and self.options.heading_vectors else {}
        bm25 = mirror.index.scores(terms) if mode != "dense" else np.zeros(len(mirror.ids))
        lexical = {mirror.ids[position]: score for position, score in LexicalIndex.top(bm25, fetch)}
        top_headings = sorted(headings, key=lambda c: -headings[c])[:fetch]
        self._add_similarity([c for c in top_headings if c not in similarity], similarity, vector, mirror)
        dense = self._dense_ranking(similarity, headings, top_headings)
        if mode == "hybrid":
            fused = dict(self._fuse(chinese, dense, lexical, bm25, similarity, headings, vector, mirror))
        else:
            fused = dense if mode == "dense" else lexical
        ranked = list(fused)[: fetch if mmr else k]
        vectors: dict[str, np.ndarray] = {}
        if vector is not None:
            vectors = self._vectors(ranked if mmr else [c for c in ranked if c not in similarity], mirror)
            similarity.update({chunk: float(vector @ v) for chunk, v in vectors.items()})
        hits = [
            self._hit(c, similarity.get(c), headings.get(c), terms, mirror, fused[c], bm25, chinese) for c in ranked
        ]
        if mmr and vectors:
            hits = self._diversify(hits, vectors, k=k, relevance=self._mmr_relevance(hits, terms, mirror, chinese))
        return [hit for hit in hits[:k] if hit.score >= min_relevance]

    def _add_similarity(
        self, ids: list[str], similarity: dict[str, float], vector: np.ndarray | None, mirror: _Mirror
    ) -> None:
        """Add the body cosines of ``ids`` (from their stored vectors) to ``similarity``."""
        if vector is not None and ids:
            similarity.update({chunk: float(vector @ v) for chunk, v in self._vectors(ids, mirror).items()})

    @staticmethod
    def _heading_scores(vector: np.ndarray, mirror: _Mirror) -> dict[str, float]:
        """Chunk id → cosine between the query and the chunk's section heading (headed first chunks)."""
        if not mirror.headed:
            return {}
        scores = mirror.heading_matrix @ vector.astype(np.float32)
        return dict(zip(mirror.headed, scores.tolist(), strict=True))

    @staticmethod
    def _dense_ranking(
        similarity: dict[str, float], headings: dict[str, float], top_headings: list[str]
    ) -> dict[str, float]:
        """The dense candidates (nearest bodies and nearest headings), best first, each scored by
        the larger of its body and heading cosines."""
        pool = list(dict.fromkeys([*similarity, *top_headings]))
        scored = {c: max(similarity.get(c, -1.0), headings.get(c, -1.0)) for c in pool}
        return dict(sorted(scored.items(), key=lambda pair: -pair[1]))

    def _diversify(
        self, hits: list[SearchHit], vectors: dict[str, np.ndarray], *, k: int, relevance: list[float]
    ) -> list[SearchHit]:
        """Reorder ``hits`` by maximal marginal relevance and keep ``k``."""
        vectors_in_order = [vectors[hit.id] for hit in hits]
        order = mmr_select(relevance, vectors_in_order, k=k, lambda_mult=self.options.mmr_lambda)
        return [hits[position] for position in order]

    @staticmethod
    def _mmr_relevance(hits: list[SearchHit], terms: list[str], mirror: _Mirror, chinese: bool) -> list[float]:
        """MMR weighs relevance against cosine redundancy, so relevance must be on the same scale:
        the cosine itself, or query coverage for Chinese (MiniLM's cosines mean little there)."""
        if chinese:
            return [mirror.index.coverage(terms, mirror.positions[hit.id]) for hit in hits]
        return [hit.dense_score or 0.0 for hit in hits]

    def _dense(self, vector: np.ndarray, limit: int, mirror: _Mirror) -> dict[str, float]:
        """Chunk id → cosine similarity for the ``limit`` nearest chunks (those the mirror knows)."""
        found = self._collection.query(query_embeddings=[vector.tolist()], n_results=limit, include=["distances"])
        pairs = zip(found["ids"][0], (found["distances"] or [[]])[0], strict=True)
        return {i: 1.0 - float(d) for i, d in pairs if i in mirror.positions}

    def _fuse(
        self,
        chinese: bool,
        dense: dict[str, float],
        lexical: dict[str, float],
        bm25: np.ndarray,
        similarity: dict[str, float],
        headings: dict[str, float],
        vector: np.ndarray | None,
        mirror: _Mirror,
    ) -> list[tuple[str, float]]:
        """Fuse the dense and lexical candidates; score fusion adds their cosines to ``similarity``."""
        options = self.options
        if options.fusion == "rrf":
            high, low = options.primary_weight, options.secondary_weight
            weights = (low, high) if chinese else (high, low)
            return reciprocal_rank_fusion([list(dense), list(lexical)], k=options.rrf_k, weights=weights)
        pool = list(dict.fromkeys([*dense, *lexical]))
        self._add_similarity([c for c in pool if c not in similarity], similarity, vector, mirror)
        dense_scores = {c: max(similarity[c], headings.get(c, -1.0)) for c in pool if c in similarity}
        best = next(iter(dense), None)
        heading_led = best is not None and headings.get(best, -1.0) >= similarity.get(best, -1.0)
        weights = fusion_weights(
            chinese=chinese,
            heading_led=heading_led,
            primary_share=options.primary_share,
            heading_share=options.heading_share,
        )
        return score_fusion([dense_scores, {c: float(bm25[mirror.positions[c]]) for c in pool}], weights=weights)

    def _vectors(self, ids: list[str], mirror: _Mirror) -> dict[str, np.ndarray]:
        """The stored vectors of ``ids``: from the mirror, else (written since it was built) from Chroma."""
        found = {chunk: mirror.vectors[chunk] for chunk in ids if chunk in mirror.vectors}
        missing = [chunk for chunk in ids if chunk not in found]
        return found | self._stored_vectors(missing) if missing else found

    def _stored_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Chunk id → stored embedding, read from Chroma page by page."""
        vectors: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), PAGE_SIZE):
            found = self._collection.get(ids=ids[start : start + PAGE_SIZE], include=["embeddings"])
            pairs = zip(found["ids"], found["embeddings"], strict=True)  # type: ignore[arg-type]
            vectors.update((chunk, np.asarray(vector, dtype=np.float32)) for chunk, vector in pairs)
        return vectors

    @staticmethod
    def _hit(
        chunk: str,
        dense_score: float | None,
        heading_score: float | None,
        terms: list[str],
        mirror: _Mirror,
        rank_score: float,
        bm25: np.ndarray,
        chinese: bool,
    ) -> SearchHit:
        position = mirror.positions[chunk]
        coverage = mirror.index.coverage(terms, position)
        relevance = coverage if chinese else max(dense_score or 0.0, coverage)
        lexical_score = float(bm25[position])
        return SearchHit(
            id=chunk,
            text=mirror.texts[position],
            metadata=dict(mirror.metadatas[position]),
            score=relevance,
            rank_score=rank_score,
            dense_score=dense_score,
            heading_score=heading_score,
            lexical_score=lexical_score if lexical_score > 0 else None,
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
        indexed = [embedding_text(Document(page_content=t, metadata=m)) for t, m in zip(texts, metadatas, strict=True)]
        headed = section_starts(ids, metadatas) if self.options.heading_vectors else {}
        return _Mirror(
            revision,
            ids,
            texts,
            metadatas,
            LexicalIndex(indexed),
            {chunk: position for position, chunk in enumerate(ids)},
            self._stored_vectors(ids),
            list(headed),
            self._embed_headings(list(headed.values())),
        )

    def _embed_headings(self, headings: list[str]) -> np.ndarray:
        """One row per heading; each distinct heading is embedded once per searcher (kept across rebuilds)."""
        new = [text for text in dict.fromkeys(headings) if text not in self._heading_vectors]
        if new:
            vectors = self._embeddings.embed_documents(new)
            self._heading_vectors.update(
                (text, np.asarray(v, dtype=np.float32)) for text, v in zip(new, vectors, strict=True)
            )
        if not headings:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._heading_vectors[text] for text in headings])


def section_starts(ids: list[str], metadatas: list[dict[str, Any]]) -> dict[str, str]:
    """Chunk id → own heading (the last part of the path) for the first chunk of every headed section.

    A section's first chunk is the lowest-numbered chunk of its file version with that heading
    path after a chunk with another one (or none). Chunks without a heading (plain text, PDF
    pages, answer-only FAQ rows) have none.

    Example:
        >>> meta = [{"source": "a", "chunk_index": i, "heading": h} for i, h in enumerate(["A", "A > B", "A > B"])]
        >>> section_starts(["c0", "c1", "c2"], meta)
        {'c0': 'A', 'c1': 'B'}
    """
    order = sorted(
        range(len(ids)),
        key=lambda p: (
            str(metadatas[p].get("source", "")),
            str(metadatas[p].get("version") or metadatas[p].get("file_hash", "")),
            int(metadatas[p].get("chunk_index", 0)),
        ),
    )
    starts: dict[str, str] = {}
    previous: tuple[str, str, str] | None = None
    for position in order:
        metadata = metadatas[position]
        version = (str(metadata.get("source", "")), str(metadata.get("version") or metadata.get("file_hash", "")))
        heading = str(metadata.get("heading") or "")
        if heading and previous != (*version, heading):
            starts[ids[position]] = heading.split(" > ")[-1]
        previous = (*version, heading)
    return starts
