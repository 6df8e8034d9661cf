"""The semantic half of the task classifier: similarity of a prompt to each task's examples.

Every example utterance is embedded once (MiniLM by default, cached on disk under
``data/cache/routing``). A prompt's similarity to an example mixes two cosines:

* the embedding cosine, which understands paraphrases — in English; the MiniLM vocabulary
  maps most Chinese characters to ``[UNK]``;
* a TF-IDF cosine over :func:`~routers.task_text.lexical_features` (words, CJK characters and
  bigrams), which is what carries Chinese.

The lexical share grows with the prompt's share of CJK characters (``lexical_weight_latin`` →
``lexical_weight_cjk``). A task's score is the mean of its ``top_k`` best example similarities
(k-nearest neighbours, so one odd example cannot decide alone).

Example:
    >>> index = SemanticIndex(load_task_config(), local_embeddings())  # embeds every example  # doctest: +SKIP
    >>> index.tasks[index.scores(["把这句话翻译成英文"])[0].argmax()]     # doctest: +SKIP
    'translation'
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from routers.task_config import TaskConfig
from routers.task_text import cjk_ratio, lexical_features, normalise

__all__ = ["LexicalIndex", "SemanticIndex"]


class LexicalIndex:
    """TF-IDF vectors (sublinear tf, smoothed idf, unit length) of a fixed set of documents.

    Features the documents never use still count towards a query's length, so a prompt that
    shares one character with an example but is otherwise unrelated scores low.
    """

    def __init__(self, documents: Sequence[str]):
        features = [Counter(lexical_features(doc)) for doc in documents]
        document_frequency = Counter(f for counts in features for f in counts)
        self._vocabulary = {f: i for i, f in enumerate(sorted(document_frequency))}
        n = len(documents)
        self._idf = np.array(
            [math.log((1 + n) / (1 + document_frequency[f])) + 1 for f in self._vocabulary], dtype=np.float32
        )
        self._unknown_idf = math.log(1 + n) + 1
        matrix = np.zeros((len(self._vocabulary), n), dtype=np.float32)  # feature-major: rows gather fast
        for j, counts in enumerate(features):
            for feature, tf in counts.items():
                i = self._vocabulary[feature]
                matrix[i, j] = (1 + math.log(tf)) * self._idf[i]
        norms = np.linalg.norm(matrix, axis=0)
        self._matrix = matrix / np.where(norms == 0, 1, norms)

    @property
    def nbytes(self) -> int:
        """Memory held by the TF-IDF matrix and idf vector."""
        return int(self._matrix.nbytes + self._idf.nbytes)

    def similarities(self, text: str) -> np.ndarray:
        """Cosine similarity of ``text`` to every document, shape ``(n_documents,)``."""
        indices, weights, unknown = [], [], 0.0
        for feature, tf in Counter(lexical_features(text)).items():
            weight = 1 + math.log(tf)
            i = self._vocabulary.get(feature)
            if i is None:
                unknown += (weight * self._unknown_idf) ** 2
            else:
                indices.append(i)
                weights.append(weight * self._idf[i])
        if not indices:
            return np.zeros(self._matrix.shape[1], dtype=np.float32)
        w = np.asarray(weights, dtype=np.float32)
        norm = math.sqrt(float(w @ w) + unknown)
        return (w / norm) @ self._matrix[indices]


class SemanticIndex:
    """Example utterances of every task, embedded and indexed, scored per task.

    Args:
        config: the task configuration (taxonomy, examples, weights, ``top_k``).
        embeddings: any LangChain embeddings returning unit-length vectors (MiniLM by default
            in :class:`~routers.task.TaskClassifier`).
        cache_dir: folder for the example vectors (``None`` disables the cache).
    """

    def __init__(self, config: TaskConfig, embeddings: Embeddings, cache_dir: Path | None = None):
        self.tasks = config.taxonomy
        self._config = config
        self._embeddings = embeddings
        texts: list[str] = []
        self._slices: list[slice] = []
        for task in self.tasks:
            examples = [normalise(e) for e in config.tasks[task].examples]
            self._slices.append(slice(len(texts), len(texts) + len(examples)))
            texts.extend(examples)
        self._vectors = _embed_examples(embeddings, texts, cache_dir)
        self._lexical = LexicalIndex(texts)

    @property
    def nbytes(self) -> int:
        """Memory held by the example vectors and the lexical matrix (the model not included)."""
        return int(self._vectors.nbytes + self._lexical.nbytes)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Per-task scores of each (normalised, focused) text, shape ``(len(texts), len(tasks))``.

        All texts are embedded in one model call.
        """
        queries = np.asarray(self._embeddings.embed_documents(list(texts)), dtype=np.float32)
        dense = queries @ self._vectors.T
        result = np.empty((len(texts), len(self.tasks)), dtype=np.float32)
        for row, text in enumerate(texts):
            weight = self._lexical_weight(text)
            similarity = (1 - weight) * dense[row] + weight * self._lexical.similarities(text)
            result[row] = [_top_k_mean(similarity[s], self._config.top_k) for s in self._slices]
        return result

    def _lexical_weight(self, text: str) -> float:
        low, high = self._config.lexical_weight_latin, self._config.lexical_weight_cjk
        return low + (high - low) * cjk_ratio(text)


def _top_k_mean(values: np.ndarray, k: int) -> float:
    if len(values) <= k:
        return float(values.mean())
    return float(np.partition(values, -k)[-k:].mean())


def _embed_examples(embeddings: Embeddings, texts: list[str], cache_dir: Path | None) -> np.ndarray:
    """Example vectors, from the cache when the model and the examples are unchanged."""
    model = getattr(embeddings, "model_name", "")
    if cache_dir is None or not model:
        return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
    key = hashlib.sha256("\x1f".join([type(embeddings).__name__, str(model), *texts]).encode()).hexdigest()
    path = cache_dir / f"task-examples-{key[:24]}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    vectors = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f"{path.stem}.{os.getpid()}.tmp.npy"
    np.save(partial, vectors)
    partial.replace(path)
    return vectors
