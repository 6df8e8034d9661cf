"""Task-classifier evaluation on the labelled development set (``routers/data/dev_set.jsonl``).

Prints, for the full classifier (rules + semantic) and for rules alone: per-task precision,
recall and F1, accuracy and the confusion matrix — overall, for English and for Chinese —
accuracy per split (``dev`` was tuned on; each ``holdout*`` was new when first scored), the
decision time per prompt (p50/p99 µs; one prompt at a time, as the router calls it) and memory.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/routing_eval.py [--split dev] [--timing-prompts 200]

The baseline in the same run is the rules-only classifier: the semantic half's cost is the
difference.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from routers.evaluation import (  # noqa: E402
    EvaluationReport,
    LabelledPrompt,
    evaluate,
    format_confusion,
    format_metrics,
    load_dev_set,
    time_calls,
)
from routers.task import TaskClassifier  # noqa: E402


def _rss_mb() -> float:
    try:
        import psutil
    except ImportError:  # psutil is a dev dependency; memory is then reported as unknown
        return float("nan")
    return psutil.Process().memory_info().rss / 2**20


def _report(title: str, rows: list[LabelledPrompt], predicted: list[str | None], labels: list[str]) -> EvaluationReport:
    report = evaluate([r.task for r in rows], predicted, labels)
    print(f"\n== {title}\n{format_metrics(report)}\n\n{format_confusion(report)}")
    return report


def _section(name: str, classifier: TaskClassifier, rows: list[LabelledPrompt]) -> None:
    decisions = classifier.classify_batch([r.prompt for r in rows])
    predicted = [d.task for d in decisions]
    labels = classifier.taxonomy
    overall = _report(f"{name}: all languages", rows, predicted, labels)
    for lang, title in (("en", "English"), ("zh", "Chinese")):
        idx = [i for i, r in enumerate(rows) if r.lang == lang]
        _report(f"{name}: {title}", [rows[i] for i in idx], [predicted[i] for i in idx], labels)
    by_method = {m: sum(d.method == m for d in decisions) for m in ("rule", "semantic", "none")}
    print(
        f"\n{name}: decided by rule {by_method['rule']}, semantic {by_method['semantic']}, "
        f"no task {by_method['none']}; most frequent confusions: "
        + (", ".join(f"{g}→{p} ×{n}" for g, p, n in overall.confusions(5)) or "none")
    )
    splits = sorted({r.split for r in rows})
    per_split = []
    for split in splits:
        idx = [i for i, r in enumerate(rows) if r.split == split]
        correct = sum(rows[i].task == predicted[i] for i in idx)
        per_split.append(f"{split} {correct}/{len(idx)} = {correct / len(idx):.3f}")
    print(f"{name}: accuracy per split: " + "; ".join(per_split))


def _timing(rules_only: TaskClassifier, full: TaskClassifier, rows: list[LabelledPrompt], n: int) -> None:
    prompts = [r.prompt for r in rows[:: max(1, len(rows) // n)]][:n]
    semantic_path = [p for p in prompts if rules_only.classify(p).task is None]
    rules = time_calls(rules_only.classify, prompts, repeat=5)
    mixed = time_calls(full.classify, prompts)
    semantic = time_calls(full.classify, semantic_path)
    print(f"\n== decision time per prompt ({len(prompts)} prompts, one call each)")
    print(f"rules only                      p50 {rules.p50_us:9.1f} µs   p99 {rules.p99_us:9.1f} µs   (baseline)")
    print(
        f"rules + semantic, all prompts   p50 {mixed.p50_us:9.1f} µs   p99 {mixed.p99_us:9.1f} µs   "
        f"({mixed.p50_us / rules.p50_us:.0f}x baseline)"
    )
    print(
        f"semantic path only ({len(semantic_path):3d})       p50 {semantic.p50_us:9.1f} µs   "
        f"p99 {semantic.p99_us:9.1f} µs   (one embedding call each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", help="evaluate one split only (dev, holdout1, holdout2, holdout3)")
    parser.add_argument("--timing-prompts", type=int, default=200)
    args = parser.parse_args()
    rows = load_dev_set(split=args.split)
    zh = sum(r.lang == "zh" for r in rows)
    print(f"{len(rows)} labelled prompts ({zh} Chinese, {len(rows) - zh} English), split: {args.split or 'all'}")

    tracemalloc.start()
    rules_only = TaskClassifier.from_config(rules_only=True)
    rules_py = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    rss_before, start = _rss_mb(), time.perf_counter()
    full = TaskClassifier.from_config()
    build_s, rss_after = time.perf_counter() - start, _rss_mb()

    _section("rules + semantic", full, rows)
    _section("rules only", rules_only, rows)
    _timing(rules_only, full, rows, args.timing_prompts)
    assert full.index is not None
    print("\n== memory")
    print(f"rules-only classifier: {rules_py / 1024:.0f} KiB of Python objects")
    examples = sum(len(t.examples) for t in full.config.tasks.values())
    print(f"semantic index: {full.index.nbytes / 2**20:.2f} MiB of arrays ({examples} examples)")
    print(
        f"full classifier built in {build_s:.1f} s; process RSS +{rss_after - rss_before:.0f} MiB "
        f"(mostly torch + MiniLM, loaded once per process and shared with retrieval)"
    )


if __name__ == "__main__":
    main()
