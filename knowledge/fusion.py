"""Combining ranked lists: weighted reciprocal rank fusion, and MMR diversification.

Reciprocal rank fusion (Cormack et al., 2009) scores an item ``Σ weight / (k + rank)`` over the
lists that contain it; it needs no score calibration between retrievers, which is why dense
cosine similarities and BM25 scores can be fused without tuning their scales.

Example:
    >>> reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)[0][0]
    'b'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["mmr_select", "reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], *, k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked id lists into one, best first.

    Args:
        rankings: one list of ids per retriever, best first.
        k: the RRF constant; smaller values favour the top of each list more.
        weights: one weight per list (default: all 1).

    Returns:
        ``(id, fused score)`` pairs sorted by descending score (ties keep first-seen order).
    """
    weights = weights or [1.0] * len(rankings)
    scores: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def mmr_select(
    relevance: Sequence[float],
    vectors: Sequence[Sequence[float]] | Sequence[np.ndarray],
    *,
    k: int,
    lambda_mult: float = 0.7,
) -> list[int]:
    """Maximal marginal relevance: pick ``k`` candidates that are relevant but unlike each other.

    Relevance is whatever ranked the candidates (here the fused RRF score, rescaled to [0, 1]),
    so MMR works on top of hybrid ranking rather than on dense similarity alone.

    Args:
        relevance: one relevance score per candidate (higher is better).
        vectors: the candidates' embeddings, same order.
        k: how many to pick.
        lambda_mult: 1 = relevance only, 0 = diversity only.

    Returns:
        Positions into the candidate list, in pick order.
    """
    if not len(relevance):
        return []
    scores = np.asarray(relevance, dtype=np.float64)
    spread = scores.max() - scores.min()
    scores = (scores - scores.min()) / spread if spread else np.ones_like(scores)
    matrix = np.asarray(vectors, dtype=np.float64)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True).clip(min=1e-12)
    similarity = matrix @ matrix.T
    picked = [int(np.argmax(scores))]
    while len(picked) < min(k, len(scores)):
        redundancy = similarity[:, picked].max(axis=1)
        marginal = lambda_mult * scores - (1 - lambda_mult) * redundancy
        marginal[picked] = -np.inf
        picked.append(int(np.argmax(marginal)))
    return picked
