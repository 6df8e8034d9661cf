"""Fitting the task head (:mod:`routers.task_head`): training rows, logistic regression, thresholds.

Runtime code never imports this module (it needs scikit-learn); ``bench/fit_task_head.py``,
``bench/routing_eval.py`` and the tests do.

The training rows are the example utterances of ``config/routing.yaml``, the ``dev``,
``holdout1`` and ``holdout2`` splits of ``dev_set.jsonl`` and the ``train`` split of
``train_set.jsonl``. Never fitted on: ``holdout3`` of ``dev_set.jsonl`` and the ``untouched``
split of ``train_set.jsonl`` (:func:`untouched_rows`), and ``eval_set.jsonl``, built from other
sources (:func:`evaluation_rows`).

Example:
    >>> rows = training_rows(load_task_config())                        # doctest: +SKIP
    >>> arrays = fit_arrays([r.prompt for r in rows], [r.task for r in rows], vectors, tasks)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from routers.evaluation import DEV_SET, LabelledPrompt, load_dev_set
from routers.task_config import TaskConfig
from routers.task_head import FEATURES_VERSION, TaskHead, TfidfVocabulary
from routers.task_text import cjk_ratio, focus, normalise

__all__ = [
    "FIT_SPLITS",
    "TRAIN_SET",
    "EVAL_SET",
    "embed_cached",
    "evaluation_rows",
    "fit_arrays",
    "head_from_arrays",
    "prepare",
    "save_head",
    "source_family",
    "training_rows",
    "untouched_rows",
]

TRAIN_SET = DEV_SET.parent / "train_set.jsonl"
EVAL_SET = DEV_SET.parent / "eval_set.jsonl"
"""Rows from sources no training row uses (``bench/build_routing_evalset.py``): never fitted on."""
FIT_SPLITS = ("dev", "holdout1", "holdout2", "train")
"""Splits the shipped head is fitted on (``config`` examples come on top)."""
REGULARISATION_C = 8.0
"""Inverse L2 strength of the logistic regression (fixed, not searched)."""
THRESHOLD_QUANTILE = 0.01
"""A task's threshold lets this share of its correct out-of-fold decisions fall to "no task"."""
THRESHOLD_CAP = 0.25
"""Highest threshold: with eight tasks a probability of 0.25 is already a clear lead."""


def prepare(text: str, config: TaskConfig) -> str:
    """The text the classifier reads: normalised, head and tail of a long prompt."""
    return focus(normalise(text), config.head_chars, config.tail_chars)


def source_family(source: str) -> str:
    """The publisher of a row's source (``chatterbot-corpus:english/x.yml`` → ``chatterbot-corpus``)."""
    return source.split(":", 1)[0]


def training_rows(config: TaskConfig) -> list[LabelledPrompt]:
    """Every row the shipped head is fitted on."""
    rows = [
        LabelledPrompt(example, task, "zh" if cjk_ratio(example) > 0.3 else "en", "config:routing.yaml", "config")
        for task, spec in config.tasks.items()
        for example in spec.examples
    ]
    rows += [r for r in load_dev_set() if r.split in FIT_SPLITS]
    rows += [r for r in load_dev_set(TRAIN_SET) if r.split in FIT_SPLITS]
    return rows


def untouched_rows() -> list[LabelledPrompt]:
    """Rows nothing was fitted or tuned on: ``holdout3`` and the ``untouched`` split."""
    return load_dev_set(split="holdout3") + load_dev_set(TRAIN_SET, split="untouched")


def evaluation_rows() -> list[LabelledPrompt]:
    """The evaluation set: other sources and instruction templates than any fitted row."""
    return load_dev_set(EVAL_SET)


def embed_cached(embeddings: Embeddings, texts: Sequence[str], cache_dir: Path | None) -> np.ndarray:
    """Sentence vectors of ``texts``, cached on disk by content (fitting embeds a few thousand)."""
    model = str(getattr(embeddings, "model_name", type(embeddings).__name__))
    key = hashlib.sha256("\x1f".join([model, *texts]).encode()).hexdigest()[:24]
    path = cache_dir / f"task-fit-{key}.npy" if cache_dir else None
    if path is not None and path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = np.asarray(embeddings.embed_documents(list(texts)), dtype=np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    return vectors


def _logistic(features: np.ndarray, labels: np.ndarray, c: float):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    return model.fit(features, labels)


def fit_arrays(
    texts: Sequence[str],
    labels: Sequence[str],
    vectors: np.ndarray,
    tasks: Sequence[str],
    c: float = REGULARISATION_C,
    calibrate: bool = True,
) -> dict[str, np.ndarray]:
    """Fit the head on prepared ``texts`` with their sentence ``vectors``; the arrays of a head file.

    Every task of ``tasks`` must have at least one row. Thresholds come from 5-fold out-of-fold
    probabilities (the :data:`THRESHOLD_QUANTILE` of each task's correct decisions, capped at
    :data:`THRESHOLD_CAP`); ``calibrate=False`` sets them to 0 (faster, for evaluations).
    """
    missing = sorted(set(tasks) - set(labels))
    if missing:
        raise ValueError(f"no training rows for tasks: {', '.join(missing)}")
    vocabulary = TfidfVocabulary.fit(texts)
    features = np.hstack([vectors, vocabulary.transform(texts)])
    y = np.array([list(tasks).index(label) for label in labels])
    model = _logistic(features, y, c)
    coef = np.zeros((len(tasks), features.shape[1]), dtype=np.float32)
    bias = np.full(len(tasks), -1e3, dtype=np.float32)
    if len(model.classes_) == 2:  # binary: one weight row for the second class; softmax of (0, w·x + b)
        coef[model.classes_[0]], bias[model.classes_[0]] = 0.0, 0.0
        coef[model.classes_[1]], bias[model.classes_[1]] = model.coef_[0], model.intercept_[0]
    else:
        coef[model.classes_] = model.coef_
        bias[model.classes_] = model.intercept_
    dims = vectors.shape[1]
    thresholds = _thresholds(features, y, len(tasks), c) if calibrate else np.zeros(len(tasks), dtype=np.float32)
    return {
        "features_version": np.array(FEATURES_VERSION),
        "tasks": np.array(list(tasks)),
        "vocabulary": np.array(sorted(vocabulary.index, key=vocabulary.index.__getitem__)),
        "idf": vocabulary.idf,
        "w_embedding": coef[:, :dims],
        "w_lexical": coef[:, dims:],
        "bias": bias,
        "thresholds": thresholds,
    }


def _thresholds(features: np.ndarray, y: np.ndarray, n_tasks: int, c: float) -> np.ndarray:
    from sklearn.model_selection import StratifiedKFold

    oof = np.zeros((len(y), n_tasks), dtype=np.float32)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(features, y):
        model = _logistic(features[train], y[train], c)
        oof[np.ix_(test, model.classes_)] = model.predict_proba(features[test])
    predicted, top = oof.argmax(axis=1), oof.max(axis=1)
    thresholds = np.zeros(n_tasks, dtype=np.float32)
    for task in range(n_tasks):
        correct = top[(predicted == task) & (y == task)]
        if len(correct):
            thresholds[task] = min(THRESHOLD_CAP, float(np.quantile(correct, THRESHOLD_QUANTILE)))
    return thresholds


def head_from_arrays(arrays: dict[str, np.ndarray], embeddings: Embeddings) -> TaskHead:
    """A :class:`TaskHead` from :func:`fit_arrays` output, without a file."""
    return TaskHead.from_arrays(arrays, embeddings)


def save_head(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a head file (compressed ``.npz``, no pickled objects)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # numpy's stub types **kwds and the keyword allow_pickle together, so a dict[str, ndarray] is refused.
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
