"""Task-classifier evaluation: the trained head beside the previous method, measured in one run.

Four classifiers: rules + trained head (``config/routing.yaml``, ``task.head``), the previous rules
+ head (both read from git at ``--previous``, by default the commit before issue 15), rules +
nearest examples (the method before the head: the same section with ``head`` unset) and rules
alone. Printed:

* **evaluation set** — ``eval_set.jsonl``: sources and instruction templates no fitted row uses
  (SQLite's and Git's FAQs and manuals, Chinese man pages, Debian package names); never fitted
  or tuned on;
* **untouched** — ``holdout3`` of ``dev_set.jsonl`` and the ``untouched`` split of
  ``train_set.jsonl``: nothing was fitted or tuned on them (per task, English, Chinese);
* **leave one source out** — the head refitted without one source family and scored on that
  family's rows; the previous rules + head scored on the same rows (it was fitted on most of them,
  so its column there is tuned-on);
* the **fitted-on** rows (dev set and ``train``), tuned-on figures for both methods;
* decision time per prompt (p50/p99 µs, one prompt at a time, as the router calls it) and memory.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/routing_eval.py [--no-loso] [--timing-prompts 200] \
        [--previous REV]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml
from langchain_core.embeddings import Embeddings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from models.embeddings import local_embeddings  # noqa: E402
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
from routers.task_config import TaskConfig, load_task_config, parse_task_config  # noqa: E402
from routers.task_head_fit import (  # noqa: E402
    TRAIN_SET,
    evaluation_rows,
    fit_arrays,
    head_from_arrays,
    prepare,
    source_family,
    training_rows,
    untouched_rows,
)

ROOT = Path(__file__).resolve().parent.parent
PREVIOUS_REF = "ace3fe9501b92f8152dfb081ececa1f183ad6ea0"
"""The commit before issue 15: its rules and head are the "previous" classifier."""


def previous_config(ref: str, folder: Path) -> TaskConfig:
    """The ``task:`` section and head file of commit ``ref``; the head is written into ``folder``."""

    def show(path: str) -> bytes:
        return subprocess.run(["git", "show", f"{ref}:{path}"], cwd=ROOT, capture_output=True, check=True).stdout

    section = yaml.safe_load(show("config/routing.yaml"))["task"]
    head = folder / "previous_task_head.npz"
    head.write_bytes(show(f"routers/data/{section['head']}"))
    return parse_task_config({**section, "head": str(head)})


class RememberingEmbeddings(Embeddings):
    """Embeds each distinct text once per run (the leave-one-source-out fits reuse the vectors)."""

    def __init__(self, inner: Embeddings):
        self._inner = inner
        self._known: dict[str, list[float]] = {}
        self.model_name = getattr(inner, "model_name", "")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors of ``texts``; only the unseen ones reach the model, in one call."""
        new = sorted({t for t in texts if t not in self._known})
        if new:
            self._known.update(zip(new, self._inner.embed_documents(new), strict=True))
        return [self._known[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        """One text's vector."""
        return self.embed_documents([text])[0]


def _report(
    title: str, rows: Sequence[LabelledPrompt], predicted: list[str | None], labels: list[str], verbose: bool = True
) -> EvaluationReport:
    report = evaluate([r.task for r in rows], predicted, labels)
    if verbose:
        print(f"\n== {title}\n{format_metrics(report)}\n\n{format_confusion(report)}")
    return report


def _accuracy_line(name: str, rows: Sequence[LabelledPrompt], predicted: list[str | None]) -> str:
    parts = []
    for lang in ("all", "en", "zh"):
        idx = [i for i, r in enumerate(rows) if lang == "all" or r.lang == lang]
        if idx:
            correct = sum(rows[i].task == predicted[i] for i in idx)
            parts.append(f"{lang} {correct / len(idx):.3f} ({len(idx)})")
    return f"{name:<26} " + "   ".join(parts)


def _untouched(classifiers: dict[str, TaskClassifier], rows: list[LabelledPrompt], title: str) -> None:
    print(f"\n######## {title}: {len(rows)} prompts")
    lines = []
    for name, classifier in classifiers.items():
        predicted = [d.task for d in classifier.classify_batch([r.prompt for r in rows])]
        _report(f"{name}: untouched, all languages", rows, predicted, classifier.taxonomy)
        lines.append(_accuracy_line(name, rows, predicted))
        for source in sorted({r.source for r in rows}):
            idx = [i for i, r in enumerate(rows) if r.source == source]
            correct = sum(rows[i].task == predicted[i] for i in idx)
            lines.append(f"    {source:<44} {correct}/{len(idx)}")
    print(f"\n== {title}: accuracy (overall, English, Chinese)\n" + "\n".join(lines))


def _fitted_on(classifiers: dict[str, TaskClassifier], rows: list[LabelledPrompt]) -> None:
    print(f"\n######## fitted-on / tuned-on: {len(rows)} prompts (dev set dev/holdout1/holdout2 + train split)")
    for name, classifier in classifiers.items():
        predicted = [d.task for d in classifier.classify_batch([r.prompt for r in rows])]
        print(_accuracy_line(name, rows, predicted))


def _leave_one_source_out(head_classifier: TaskClassifier, previous: TaskClassifier, embeddings: Embeddings) -> None:
    """``previous`` is scored on the same rows; it was fitted on most of them (tuned-on)."""
    config = head_classifier.config
    fit_rows = training_rows(config)
    pool = fit_rows + untouched_rows()
    families = sorted({source_family(r.source) for r in fit_rows})
    print("\n######## leave one source out: head refitted without the family, scored on its rows")
    print(f"{'left out':<26} {'rows':>5}  {'head':>6}  {'previous':>8}   (previous: fitted on them)")
    total = {"head": 0, "previous": 0, "n": 0}
    for family in families:
        kept = [r for r in fit_rows if source_family(r.source) != family]
        scored = [r for r in pool if source_family(r.source) == family]
        texts = [prepare(r.prompt, config) for r in kept]
        vectors = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
        try:
            arrays = fit_arrays(texts, [r.task for r in kept], vectors, config.taxonomy)
        except ValueError as exc:  # a family that alone carries a task cannot be left out
            print(f"{family:<26} {len(scored):5d}  skipped: {exc}")
            continue
        refitted = TaskClassifier(config, head_from_arrays(arrays, embeddings))
        prompts = [r.prompt for r in scored]
        head_ok = sum(d.task == r.task for d, r in zip(refitted.classify_batch(prompts), scored, strict=True))
        prev_ok = sum(d.task == r.task for d, r in zip(previous.classify_batch(prompts), scored, strict=True))
        total["head"] += head_ok
        total["previous"] += prev_ok
        total["n"] += len(scored)
        print(f"{family:<26} {len(scored):5d}  {head_ok / len(scored):6.3f}  {prev_ok / len(scored):8.3f}")
    n = total["n"]
    print(f"{'pooled':<26} {n:5d}  {total['head'] / n:6.3f}  {total['previous'] / n:8.3f}")


def _timing(classifiers: dict[str, TaskClassifier], rows: list[LabelledPrompt], n: int) -> None:
    prompts = [r.prompt for r in rows[:: max(1, len(rows) // n)]][:n]
    rules_only = classifiers["rules only"]
    semantic_path = [p for p in prompts if rules_only.by_rules(p) is None]
    print(
        f"\n== decision time per prompt ({len(prompts)} prompts, {len(semantic_path)} need the model; "
        "one call each; shared 2-core machine, noisy)"
    )
    baseline = time_calls(rules_only.classify, prompts, repeat=5)
    print(f"{'rules only':<32} p50 {baseline.p50_us:9.1f} µs   p99 {baseline.p99_us:9.1f} µs   (baseline)")
    for name, classifier in classifiers.items():
        if name == "rules only":
            continue
        timing = time_calls(classifier.classify, semantic_path)
        print(
            f"{name + ', model path':<32} p50 {timing.p50_us:9.1f} µs   p99 {timing.p99_us:9.1f} µs   "
            f"({timing.p50_us / baseline.p50_us:.0f}x baseline)"
        )
    embeddings = local_embeddings()
    alone = time_calls(lambda p: embeddings.embed_documents([p]), semantic_path)
    print(f"{'MiniLM embedding alone':<32} p50 {alone.p50_us:9.1f} µs   p99 {alone.p99_us:9.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-loso", action="store_true", help="skip the leave-one-source-out refits")
    parser.add_argument("--timing-prompts", type=int, default=200)
    parser.add_argument("--previous", default=PREVIOUS_REF, help="git revision of the previous rules and head")
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory()
    old_config = previous_config(args.previous, Path(scratch.name))
    config = load_task_config()
    embeddings = RememberingEmbeddings(local_embeddings())
    start = time.perf_counter()
    head = TaskClassifier.from_config(config, embeddings=embeddings)
    build_s = time.perf_counter() - start
    previous = TaskClassifier.from_config(old_config, embeddings=embeddings)
    nearest = TaskClassifier.from_config(config.model_copy(update={"head": None}), embeddings=embeddings)
    rules_only = TaskClassifier.from_config(config, rules_only=True)
    classifiers = {
        "rules + trained head": head,
        "previous rules + head": previous,
        "rules + nearest examples": nearest,
        "rules only": rules_only,
    }

    _untouched(classifiers, evaluation_rows(), "evaluation set: other sources, never fitted or tuned on")
    _untouched(classifiers, untouched_rows(), "untouched: holdout3 + untouched split, never fitted on")
    fitted = load_dev_set(split=None)
    fitted = [r for r in fitted if r.split != "holdout3"] + load_dev_set(TRAIN_SET, split="train")
    _fitted_on(classifiers, fitted)
    if not args.no_loso:
        _leave_one_source_out(head, previous, embeddings)
    plain = local_embeddings()  # timing: every call embeds, nothing remembered
    timed = {
        "rules only": rules_only,
        "rules + trained head": TaskClassifier.from_config(config, embeddings=plain),
        "previous rules + head": TaskClassifier.from_config(old_config, embeddings=plain),
    }
    _timing(timed, fitted, args.timing_prompts)
    assert head.index is not None and nearest.index is not None
    print("\n== memory")
    print(f"trained head: {head.index.nbytes / 2**20:.2f} MiB of arrays, loaded in {build_s:.1f} s (MiniLM included)")
    print(f"nearest-example index: {nearest.index.nbytes / 2**20:.2f} MiB of arrays")
    scratch.cleanup()


if __name__ == "__main__":
    main()
