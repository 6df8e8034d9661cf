"""Metric helpers for moderation: span precision/recall per type, rates, latency percentiles.

Pure functions over plain data, shared by ``bench/moderation_eval.py`` and notebooks.

A predicted span counts as correct when it **overlaps** a gold span of the same type (masking
any part of a value hides it from a pattern match, and gold boundaries differ between datasets
— "Apt. 4" may or may not belong to an address); a gold span is recalled when a predicted span
of its type overlaps it.

Example:
    >>> gold = [[("EMAIL", 0, 5)], [("PHONE", 3, 9)]]
    >>> pred = [[("EMAIL", 0, 5)], [("PHONE", 0, 2)]]
    >>> scores = span_scores(gold, pred)
    >>> scores["EMAIL"].recall, scores["PHONE"].precision
    (1.0, 0.0)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Scores", "percentiles", "rate", "span_scores", "time_calls"]

Span = tuple[str, int, int]


@dataclass
class Scores:
    """Counts for one type; precision/recall are 1.0 when there is nothing to count."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return (self.gold - self.fn) / self.gold if self.gold else 1.0


def _overlaps(a: Span, b: Span) -> bool:
    return a[0] == b[0] and a[1] < b[2] and b[1] < a[2]


def span_scores(
    gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]], types: Iterable[str] | None = None
) -> dict[str, Scores]:
    """Per-type overlap precision and recall over parallel lists of per-sentence spans."""
    wanted = set(types) if types is not None else None
    scores: dict[str, Scores] = {}
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        for span in predicted_spans:
            if wanted is None or span[0] in wanted:
                entry = scores.setdefault(span[0], Scores())
                if any(_overlaps(span, g) for g in gold_spans):
                    entry.tp += 1
                else:
                    entry.fp += 1
        for span in gold_spans:
            if wanted is None or span[0] in wanted:
                entry = scores.setdefault(span[0], Scores())
                entry.gold += 1
                entry.fn += not any(_overlaps(span, p) for p in predicted_spans)
    return scores


def rate(flags: Iterable[bool]) -> float:
    """Share of true values (0.0 for none)."""
    values = list(flags)
    return sum(values) / len(values) if values else 0.0


def time_calls(call: Callable[[], object], repeat: int, warmup: int = 3) -> list[float]:
    """Seconds taken by ``repeat`` calls of ``call`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of ``samples``."""
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}
