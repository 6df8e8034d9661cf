"""Combining retrievers' results: score fusion (the default), reciprocal rank fusion, and MMR.

**Score fusion** (:func:`score_fusion`) is a convex combination of each retriever's scores after
z-score normalisation over the candidate pool: ``Σ weight · (score − mean) / std``. It looks at
how far a candidate stands out in each list, not only at its rank, so a retriever whose list is
a flat run of weak matches moves the order little, while a clear winner in either list counts.
Bruch et al. (2023, "An Analysis of Fusion Functions for Hybrid Retrieval", ACM TOIS) found
convex combination of normalised scores better than RRF and less sensitive to its one
parameter; normalising per query makes cosine similarities and BM25 scores commensurable.

**Reciprocal rank fusion** (:func:`reciprocal_rank_fusion`, Cormack et al., 2009) scores an item
``Σ weight / (k + rank)``; it ignores the scores, so the 30th BM25 match of a query that shares
one common word with the collection counts as much as the 30th of an exact-phrase query. It
was the hybrid search's first fusion and is kept for comparison (``bench/retrieval_eval.py``).

Example:
    >>> [item for item, _ in score_fusion([{"a": 0.9, "b": 0.5, "c": 0.4}, {"a": 0, "b": 3, "c": 0}],
    ...                                   weights=[0.75, 0.25])]
    ['a', 'b', 'c']
    >>> reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)[0][0]
    'b'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["fusion_weights", "mmr_select", "reciprocal_rank_fusion", "score_fusion", "zscores"]


def zscores(scores: Sequence[float]) -> np.ndarray:
    """``(score − mean) / std`` over ``scores``; all zeros when they do not vary (or are empty).

    Example:
        >>> zscores([1.0, 2.0, 3.0]).round(3).tolist()
        [-1.225, 0.0, 1.225]
    """
    values = np.asarray(scores, dtype=np.float64)
    if not values.size:
        return values
    spread, centre = float(values.std()), float(values.mean())
    flat = spread <= 1e-9 * max(1.0, abs(centre))  # equal scores leave rounding noise, not signal
    return np.zeros_like(values) if flat else (values - centre) / spread


def score_fusion(
    scores: Sequence[Mapping[str, float]], *, weights: Sequence[float] | None = None
) -> list[tuple[str, float]]:
    """Fuse per-retriever scores into one ranking, best first (convex combination of z-scores).

    The pool is every id any retriever scored. Each retriever's scores are z-normalised over the
    pool; an id a retriever did not score gets that retriever's lowest normalised score in the
    pool (it was not among its matches, so it is no better than its worst). A retriever whose
    scores do not vary contributes nothing.

    Args:
        scores: one ``{id: score}`` mapping per retriever (higher is better, any scale).
        weights: one non-negative weight per retriever (default: equal); they need not sum to 1.

    Returns:
        ``(id, fused score)`` pairs sorted by descending score; ties keep first-seen order
        (the first retriever's ids first).

    Raises:
        ValueError: when the number of weights differs from the number of retrievers, or a
            weight is negative.
    """
    weights = [1.0] * len(scores) if weights is None else list(weights)
    if len(weights) != len(scores):
        raise ValueError(f"{len(scores)} score lists but {len(weights)} weights")
    if any(weight < 0 for weight in weights):
        raise ValueError(f"weights must not be negative (got {weights})")
    pool = list(dict.fromkeys(item for retriever in scores for item in retriever))
    fused = np.zeros(len(pool))
    for retriever, weight in zip(scores, weights, strict=True):
        if not retriever or not weight:
            continue
        known = np.array([item in retriever for item in pool])
        normalised = zscores([retriever[item] for item in pool if item in retriever])
        column = np.full(len(pool), normalised.min())
        column[known] = normalised
        fused += weight * column
    order = sorted(range(len(pool)), key=lambda position: -fused[position])
    return [(pool[position], float(fused[position])) for position in order]


def fusion_weights(
    *, chinese: bool, heading_led: bool, primary_share: float, heading_share: float
) -> tuple[float, float]:
    """The ``(dense, lexical)`` weights of score fusion for one query.

    The retriever that suits the query's script leads with ``primary_share``: lexical for
    Chinese, dense otherwise. An alphabetic query whose best dense match is a section
    *heading* (its heading cosine is at least its body cosine) compares a question with a
    question, the dense signal's strongest case, and leans on dense with ``heading_share``;
    BM25 then only breaks near-ties. Chinese queries keep the lexical lead: MiniLM's cosines
    mean little there, headings or not.

    Args:
        chinese: the query is mostly Chinese (``SearchOptions.cjk_threshold``).
        heading_led: the top dense candidate scored by its section heading.
        primary_share: weight of the retriever that suits the script.
        heading_share: dense weight for a heading-led alphabetic query.

    Returns:
        The dense and the lexical weight; they sum to 1.

    Example:
        >>> fusion_weights(chinese=False, heading_led=True, primary_share=0.75, heading_share=0.9)
        (0.9, 0.09999999999999998)
        >>> fusion_weights(chinese=True, heading_led=True, primary_share=0.75, heading_share=0.9)
        (0.25, 0.75)
    """
    if chinese:
        return 1 - primary_share, primary_share
    share = heading_share if heading_led else primary_share
    return share, 1 - share


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
    fused: dict[str, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])


def mmr_select(
    relevance: Sequence[float],
    vectors: Sequence[Sequence[float]] | Sequence[np.ndarray],
    *,
    k: int,
    lambda_mult: float = 0.7,
) -> list[int]:
    """Maximal marginal relevance: pick ``k`` candidates that are relevant but unlike each other.

    Each step picks the candidate maximising ``λ · relevance − (1 − λ) · max cosine to those
    already picked`` (Carbonell & Goldstein, 1998). Relevance must be on the cosine's scale for
    ``λ`` to mean the same trade-off everywhere; the hybrid search passes each candidate's cosine
    similarity to the query (query-term coverage for Chinese), not its fused rank score.

    Example:
        >>> mmr_select([0.9, 0.85, 0.75], [[1.0, 0.0], [1.0, 0.01], [0.6, 0.8]], k=2)
        [0, 2]

    Args:
        relevance: one relevance score per candidate (higher is better), typically in [0, 1].
        vectors: the candidates' embeddings, same order.
        k: how many to pick.
        lambda_mult: 1 = relevance only, 0 = diversity only.

    Returns:
        Positions into the candidate list, in pick order.
    """
    if not len(relevance):
        return []
    scores = np.asarray(relevance, dtype=np.float64)
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
