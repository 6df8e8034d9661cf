"""Retrieval metrics, shared by ``bench/retrieval_eval.py``, notebooks and tests.

A *ranking* is the list of ids a retriever returned for one query, best first; *relevant* is
the set of ids that answer it (several when a dataset repeats a question).

Example:
    >>> rankings = [["a", "b"], ["c", "d"]]
    >>> relevant = [{"b"}, {"x"}]
    >>> recall_at_k(rankings, relevant, 1), recall_at_k(rankings, relevant, 2)
    (0.0, 0.5)
    >>> mean_reciprocal_rank(rankings, relevant)
    0.25
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence

import numpy as np

__all__ = ["RetrievalScores", "evaluate", "latency_percentiles", "mean_reciprocal_rank", "recall_at_k"]

Ranking = Sequence[Hashable]
Relevant = Collection[Hashable]


def _check(rankings: Sequence[Ranking], relevant: Sequence[Relevant]) -> None:
    if len(rankings) != len(relevant):
        raise ValueError(f"{len(rankings)} rankings but {len(relevant)} relevance sets")


def recall_at_k(rankings: Sequence[Ranking], relevant: Sequence[Relevant], k: int) -> float:
    """Share of queries with at least one relevant id in their top ``k`` (hit rate @ k)."""
    _check(rankings, relevant)
    if not rankings:
        return 0.0
    hits = sum(1 for ranking, wanted in zip(rankings, relevant, strict=True) if set(ranking[:k]) & set(wanted))
    return hits / len(rankings)


def mean_reciprocal_rank(rankings: Sequence[Ranking], relevant: Sequence[Relevant], k: int | None = None) -> float:
    """Mean over queries of 1 / rank of the first relevant id (0 when none in the top ``k``)."""
    _check(rankings, relevant)
    if not rankings:
        return 0.0
    total = 0.0
    for ranking, wanted in zip(rankings, relevant, strict=True):
        for rank, item in enumerate(ranking[:k] if k else ranking, start=1):
            if item in wanted:
                total += 1.0 / rank
                break
    return total / len(rankings)


class RetrievalScores(dict[str, float]):
    """``{"recall@1": …, "recall@5": …, "mrr": …}`` — a dict, printable as a table row."""

    def row(self, name: str) -> str:
        """``name`` followed by the scores, 3 decimals each."""
        return f"{name:<8}" + "".join(f"{value:>11.3f}" for value in self.values())


def evaluate(
    rankings: Sequence[Ranking], relevant: Sequence[Relevant], ks: Sequence[int] = (1, 5), mrr_k: int = 10
) -> RetrievalScores:
    """Recall at each of ``ks`` and MRR@``mrr_k``.

    Example:
        >>> evaluate([["a"]], [{"a"}], ks=(1,))
        {'recall@1': 1.0, 'mrr@10': 1.0}
    """
    scores = RetrievalScores({f"recall@{k}": recall_at_k(rankings, relevant, k) for k in ks})
    scores[f"mrr@{mrr_k}"] = mean_reciprocal_rank(rankings, relevant, mrr_k)
    return scores


def latency_percentiles(seconds: Sequence[float], percentiles: Sequence[float] = (50, 99)) -> dict[str, float]:
    """Latency percentiles in milliseconds, e.g. ``{"p50": 9.8, "p99": 21.3}``."""
    values = np.asarray(seconds, dtype=float) * 1000
    return {f"p{p:g}": float(np.percentile(values, p)) if len(values) else 0.0 for p in percentiles}
