"""Evaluation of the task classifier: the labelled set, metrics, tables and decision timing.

Runtime code never imports this module; ``bench/routing_eval.py``, the tests and notebooks do.

Example:
    >>> rows = load_dev_set(split="dev")
    >>> gold = [r.task for r in rows]
    >>> report = evaluate(gold, gold, labels=sorted(set(gold)))
    >>> report.accuracy
    1.0
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEV_SET",
    "NONE_LABEL",
    "EvaluationReport",
    "LabelledPrompt",
    "TaskMetrics",
    "Timing",
    "evaluate",
    "format_confusion",
    "format_metrics",
    "load_dev_set",
    "time_calls",
]

DEV_SET = Path(__file__).resolve().parent / "data" / "dev_set.jsonl"
NONE_LABEL = "(none)"
"""How a ``task=None`` prediction appears in tables."""


@dataclass(frozen=True)
class LabelledPrompt:
    """One line of the development set."""

    prompt: str
    task: str
    lang: str
    source: str
    split: str = "dev"


@dataclass(frozen=True)
class TaskMetrics:
    """Precision, recall and F1 of one task (one-vs-rest)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvaluationReport:
    """Accuracy, per-task metrics and the confusion matrix of one run."""

    labels: list[str]
    """Gold labels, in table order."""
    accuracy: float
    per_task: dict[str, TaskMetrics]
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    """gold → predicted (a task or :data:`NONE_LABEL`) → count."""
    total: int = 0

    def confusions(self, top: int = 5) -> list[tuple[str, str, int]]:
        """The most frequent (gold, predicted, count) errors."""
        errors = [(g, p, n) for g, row in self.confusion.items() for p, n in row.items() if g != p and n]
        return sorted(errors, key=lambda e: (-e[2], e[0], e[1]))[:top]


def load_dev_set(path: Path | None = None, split: str | None = None, lang: str | None = None) -> list[LabelledPrompt]:
    """The labelled prompts (``routers/data/dev_set.jsonl``), optionally one split or language."""
    rows = []
    for line in (path or DEV_SET).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = LabelledPrompt(**json.loads(line))
            if (split is None or row.split == split) and (lang is None or row.lang == lang):
                rows.append(row)
    return rows


def evaluate(gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str]) -> EvaluationReport:
    """Compare predictions with gold labels (``None`` predictions count as wrong)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    pred = [p if p is not None else NONE_LABEL for p in predicted]
    confusion = {g: dict.fromkeys([*labels, NONE_LABEL], 0) for g in labels}
    for g, p in zip(gold, pred, strict=True):
        confusion.setdefault(g, dict.fromkeys([*labels, NONE_LABEL], 0))
        confusion[g][p] = confusion[g].get(p, 0) + 1
    per_task = {label: _metrics(label, gold, pred) for label in labels}
    correct = sum(g == p for g, p in zip(gold, pred, strict=True))
    accuracy = correct / len(gold) if gold else 0.0
    return EvaluationReport(list(labels), accuracy, per_task, confusion, len(gold))


def _metrics(label: str, gold: Sequence[str], pred: Sequence[str]) -> TaskMetrics:
    tp = sum(g == label and p == label for g, p in zip(gold, pred, strict=True))
    predicted = sum(p == label for p in pred)
    support = sum(g == label for g in gold)
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TaskMetrics(precision, recall, f1, support)


def format_metrics(report: EvaluationReport) -> str:
    """Per-task precision / recall / F1 / support, then accuracy, as a text table."""
    width = max(len(label) for label in report.labels)
    lines = [f"{'task':<{width}}  precision  recall     f1  support"]
    for label in report.labels:
        m = report.per_task[label]
        lines.append(f"{label:<{width}}  {m.precision:9.3f}  {m.recall:6.3f}  {m.f1:5.3f}  {m.support:7d}")
    lines.append(f"{'accuracy':<{width}}  {report.accuracy:9.3f}  ({report.total} prompts)")
    return "\n".join(lines)


def format_confusion(report: EvaluationReport, abbreviate: int = 6) -> str:
    """The confusion matrix (rows: gold, columns: predicted, last column: no task)."""
    columns = [*report.labels, NONE_LABEL]
    heads = [c[:abbreviate] for c in columns]
    corner = "gold \\ predicted"
    width = max(len(corner), *(len(label) for label in report.labels))
    lines = [f"{corner:<{width}}  " + " ".join(f"{h:>{abbreviate}}" for h in heads)]
    for label in report.labels:
        row = report.confusion.get(label, {})
        cells = " ".join(f"{row.get(c, 0) or '.':>{abbreviate}}" for c in columns)
        lines.append(f"{label:<{width}}  {cells}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Timing:
    """Latency percentiles in microseconds."""

    p50_us: float
    p99_us: float
    calls: int


def time_calls(function: Callable[[str], object], inputs: Sequence[str], repeat: int = 1, warmup: int = 3) -> Timing:
    """Time ``function(text)`` once per input per repeat (after ``warmup`` untimed calls)."""
    for text in list(inputs)[:warmup]:
        function(text)
    samples = []
    for _ in range(repeat):
        for text in inputs:
            start = time.perf_counter()
            function(text)
            samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return Timing(statistics.median(samples), p99, len(samples))
