"""Fit the task head and write ``routers/data/task_head.npz`` (plain arrays, no pickle).

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/fit_task_head.py [--dry-run]

Fits a logistic regression over MiniLM embeddings + n-gram TF-IDF on the rows of
:func:`routers.task_head_fit.training_rows` (config examples, dev set ``dev``/``holdout1``/
``holdout2``, ``train_set.jsonl`` ``train``), calibrates one threshold per task on 5-fold
out-of-fold probabilities, and writes the head the configuration names. Deterministic for the
same data and packages; about a minute on two cores (most of it embedding, cached under
``data/cache/routing``). ``--dry-run`` fits and prints without writing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from core.settings import data_dir  # noqa: E402
from models.embeddings import local_embeddings  # noqa: E402
from routers.task_config import load_task_config  # noqa: E402
from routers.task_head_fit import embed_cached, fit_arrays, prepare, save_head, training_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="fit and report, write nothing")
    args = parser.parse_args()
    config = load_task_config()
    target = config.head_path()
    if target is None:
        raise SystemExit("config/routing.yaml names no task.head to write")
    rows = training_rows(config)
    texts = [prepare(r.prompt, config) for r in rows]
    start = time.perf_counter()
    vectors = embed_cached(local_embeddings(), texts, data_dir("cache", "routing"))
    embedded = time.perf_counter() - start
    arrays = fit_arrays(texts, [r.task for r in rows], vectors, config.taxonomy)
    fitted = time.perf_counter() - start - embedded
    print(
        f"{len(rows)} training rows: " + ", ".join(f"{t} {n}" for t, n in sorted(Counter(r.task for r in rows).items()))
    )
    print(f"embedded in {embedded:.1f} s, fitted and calibrated in {fitted:.1f} s; {len(arrays['vocabulary'])} n-grams")
    print(
        "thresholds: " + ", ".join(f"{t} {v:.2f}" for t, v in zip(arrays["tasks"], arrays["thresholds"], strict=True))
    )
    if not args.dry_run:
        save_head(target, arrays)
        print(f"wrote {target} ({target.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
