"""``HybridRetriever``: a knowledge base as a LangChain retriever.

The search itself — Chroma dense retrieval plus BM25 (``bm25s``, jieba for Chinese), fused as a
convex combination of z-normalised scores (:func:`knowledge.fusion.score_fusion`), optional
MMR — lives in :mod:`knowledge.search`, below this layer, so
the CLI and the server can use it without LangChain chains. This class adapts it to LangChain's
``BaseRetriever`` interface (``invoke``, ``batch``, callbacks, tracing) and adds the relevance
threshold the RAG chain relies on to say "I don't know".

Each returned ``Document`` carries the chunk metadata (``source``, ``file``, ``title``,
``heading``, ``page``, ``chunk_index``, ``content_hash``...) plus ``id``, ``score`` (relevance
in [0, 1], the same scale whatever the fusion) and ``rank_score`` (the fused score that
ordered the hits).

Example:
    >>> from knowledge import KnowledgeBase
    >>> retriever = HybridRetriever(knowledge_base=KnowledgeBase("shop"), k=4,
    ...                             min_relevance=0.35)              # doctest: +SKIP
    >>> [d.metadata["heading"] for d in retriever.invoke("refund time")]  # doctest: +SKIP
    ['How long does a refund take?', 'Returns and refunds > Refunds', ...]
"""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from knowledge.base import KnowledgeBase
from knowledge.lexical import cjk_share
from knowledge.search import SearchMode

__all__ = ["DEFAULT_MIN_RELEVANCE", "DEFAULT_MIN_RELEVANCE_ZH", "HybridRetriever"]

DEFAULT_MIN_RELEVANCE = 0.35
"""Relevance below which a chunk is treated as unrelated. Calibrated on the Yardstore sample
with 20 answerable and 14 off-topic questions (English and Chinese): the best hit of every
off-topic question scored ≤ 0.28, of every answerable one ≥ 0.40. Relevance is the larger of
cosine similarity and query-term coverage, computed per hit and independent of how the hits
were fused, so changing the fusion (RRF → score fusion) left the threshold's meaning as it was."""

DEFAULT_MIN_RELEVANCE_ZH = 0.15
"""The threshold for Chinese questions, whose relevance is query-term coverage alone (MiniLM's
cosine rates unrelated Chinese texts 0.6). Coverage of a Chinese question is much lower than of an
English one because jieba keeps question words such as 多长时间 that no answer repeats: with the
0.35 above, "我想退货，需要多长时间？" (best hit 0.315, the returns page) was refused. Calibrated
on ``tests/data/shop_questions.jsonl`` (dev split, the Yardstore sample): the best hit of each of
the 12 answerable Chinese questions scored ≥ 0.315, of each of the 6 off-topic ones 0.0 (they
share no term with the collection); 0.15 sits between them. ``bench/app_experience.py
--calibrate`` prints both distributions again."""


class HybridRetriever(BaseRetriever):
    """Hybrid (dense + BM25, score-fused) retrieval from a :class:`knowledge.KnowledgeBase`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    knowledge_base: KnowledgeBase
    """The knowledge base to search."""
    k: int = Field(default=4, ge=1)
    """How many chunks to return at most."""
    min_relevance: float = Field(default=0.0, ge=0.0, le=1.0)
    """Drop chunks whose relevance is lower; 0 keeps everything."""
    min_relevance_cjk: float | None = Field(default=None, ge=0.0, le=1.0)
    """The threshold for mostly-Chinese questions; ``None`` uses ``min_relevance``."""
    mmr: bool = False
    """Diversify results with maximal marginal relevance."""
    mode: SearchMode = "hybrid"
    """``"hybrid"``, or ``"dense"`` / ``"lexical"`` alone (for comparisons)."""

    def threshold(self, query: str) -> float:
        """The relevance threshold that applies to ``query`` (its script decides)."""
        chinese = cjk_share(query) >= self.knowledge_base.search_options.cjk_threshold
        return self.min_relevance_cjk if chinese and self.min_relevance_cjk is not None else self.min_relevance

    def best_match(self, query: str) -> Document | None:
        """The best chunk whatever its relevance (what a refusal names), or ``None`` for an empty collection."""
        hits = self.knowledge_base.search(query, 1, mode=self.mode)
        return hits[0].to_document() if hits else None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.knowledge_base.search(
            query, self.k, mode=self.mode, mmr=self.mmr, min_relevance=self.threshold(query)
        )
        return [hit.to_document() for hit in hits]
