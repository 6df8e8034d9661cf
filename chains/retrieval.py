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
from knowledge.search import SearchMode

__all__ = ["DEFAULT_MIN_RELEVANCE", "HybridRetriever"]

DEFAULT_MIN_RELEVANCE = 0.35
"""Relevance below which a chunk is treated as unrelated. Calibrated on the Yardstore sample
with 20 answerable and 14 off-topic questions (English and Chinese): the best hit of every
off-topic question scored ≤ 0.28, of every answerable one ≥ 0.40. Relevance is the larger of
cosine similarity and query-term coverage, computed per hit and independent of how the hits
were fused, so changing the fusion (RRF → score fusion) left the threshold's meaning as it was."""


class HybridRetriever(BaseRetriever):
    """Hybrid (dense + BM25, score-fused) retrieval from a :class:`knowledge.KnowledgeBase`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    knowledge_base: KnowledgeBase
    """The knowledge base to search."""
    k: int = Field(default=4, ge=1)
    """How many chunks to return at most."""
    min_relevance: float = Field(default=0.0, ge=0.0, le=1.0)
    """Drop chunks whose relevance is lower; 0 keeps everything."""
    mmr: bool = False
    """Diversify results with maximal marginal relevance."""
    mode: SearchMode = "hybrid"
    """``"hybrid"``, or ``"dense"`` / ``"lexical"`` alone (for comparisons)."""

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.knowledge_base.search(query, self.k, mode=self.mode, mmr=self.mmr, min_relevance=self.min_relevance)
        return [hit.to_document() for hit in hits]
