"""The trained half of the task classifier: a linear head over MiniLM embeddings and n-grams.

A prompt becomes two feature vectors:

* its MiniLM sentence embedding (384 dimensions, unit length), which understands English
  paraphrases;
* a TF-IDF vector (sublinear tf, unit length) over :func:`head_features` — words, five-letter
  word prefixes, CJK characters and bigrams — which carries Chinese and exact terms.

A multinomial logistic regression, fitted offline by ``bench/fit_task_head.py`` (see
``routers/task_head_fit.py``), turns them into one probability per task. Its weights ship as
``routers/data/task_head.npz`` (plain arrays, loaded with ``allow_pickle=False``), with one
probability threshold per task calibrated on out-of-fold predictions: below it the answer is
"no task". Inference needs numpy only.

Example:
    >>> from models.embeddings import local_embeddings
    >>> head = TaskHead.load(Path("routers/data/task_head.npz"), local_embeddings())
    >>> head.tasks[head.scores(["Who wrote Don Quixote?"]).argmax()]
    'knowledge_qa'
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from core.errors import CatalogError
from routers.task_text import lexical_features

__all__ = ["FEATURES_VERSION", "TaskHead", "TfidfVocabulary", "head_features"]

FEATURES_VERSION = 1
"""Bumped whenever :func:`head_features` changes; a head fitted on other features is refused."""

_LATIN_WORD = re.compile(r"[a-z]{6,}")


def head_features(text: str) -> list[str]:
    """Lexical tokens of the head: :func:`lexical_features` plus ``~`` + the first five letters
    of every Latin word of six letters or more (so "summarise"/"summarize" share ``~summa``)."""
    tokens = lexical_features(text)
    tokens.extend("~" + word[:5] for word in _LATIN_WORD.findall(text.lower()))
    return tokens


@dataclass(frozen=True)
class TfidfVocabulary:
    """A fixed vocabulary with idf weights; turns texts into unit-length TF-IDF rows."""

    index: dict[str, int]
    idf: np.ndarray

    @classmethod
    def fit(cls, texts: Sequence[str], min_df: int = 2) -> TfidfVocabulary:
        """Vocabulary of the tokens found in at least ``min_df`` texts, smoothed idf."""
        df = Counter(token for text in texts for token in set(head_features(text)))
        kept = sorted(token for token, n in df.items() if n >= min_df)
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1 for t in kept], dtype=np.float32)
        return cls({t: i for i, t in enumerate(kept)}, idf)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Dense TF-IDF matrix, shape ``(len(texts), len(vocabulary))``; unknown tokens are dropped."""
        matrix = np.zeros((len(texts), len(self.index)), dtype=np.float32)
        for row, text in enumerate(texts):
            for token, tf in Counter(head_features(text)).items():
                i = self.index.get(token)
                if i is not None:
                    matrix[row, i] = (1 + math.log(tf)) * self.idf[i]
            norm = float(np.linalg.norm(matrix[row]))
            if norm:
                matrix[row] /= norm
        return matrix


class TaskHead:
    """A fitted linear task model. Build with :meth:`load`.

    Args:
        tasks: task names, in the order of the weight rows.
        vocabulary: the lexical features.
        w_embedding: weights of the embedding, shape ``(tasks, dimensions)``.
        w_lexical: weights of the TF-IDF features, shape ``(tasks, len(vocabulary.index))``.
        bias: one intercept per task.
        thresholds: minimum probability per task for a decision.
        embeddings: the sentence encoder the head was fitted with.
    """

    def __init__(
        self,
        tasks: list[str],
        vocabulary: TfidfVocabulary,
        w_embedding: np.ndarray,
        w_lexical: np.ndarray,
        bias: np.ndarray,
        thresholds: np.ndarray,
        embeddings: Embeddings,
    ):
        self.tasks = tasks
        self._vocabulary = vocabulary
        self._w_embedding = w_embedding
        self._w_lexical = w_lexical
        self._bias = bias
        self._thresholds = dict(zip(tasks, thresholds.tolist(), strict=True))
        self._embeddings = embeddings

    @classmethod
    def load(cls, path: Path, embeddings: Embeddings) -> TaskHead:
        """Read a head written by :func:`routers.task_head_fit.save_head`.

        Raises:
            CatalogError: the file is missing, unreadable, or fitted on other features.
        """
        if not path.exists():
            raise CatalogError("task head not found (run bench/fit_task_head.py)", source=str(path))
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise CatalogError(f"unreadable task head: {exc}", source=str(path)) from exc
        version = int(arrays.get("features_version", -1))
        if version != FEATURES_VERSION:
            raise CatalogError(
                f"task head fitted on features v{version}, this code computes "
                f"v{FEATURES_VERSION}: refit with bench/fit_task_head.py",
                source=str(path),
            )
        return cls.from_arrays(arrays, embeddings)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], embeddings: Embeddings) -> TaskHead:
        """A head from its fitted arrays (the contents of the ``.npz`` file)."""
        vocabulary = TfidfVocabulary({str(t): i for i, t in enumerate(arrays["vocabulary"])}, arrays["idf"])
        return cls(
            [str(t) for t in arrays["tasks"]],
            vocabulary,
            arrays["w_embedding"],
            arrays["w_lexical"],
            arrays["bias"],
            arrays["thresholds"],
            embeddings,
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the weights and idf vector (the encoder not included)."""
        return int(self._w_embedding.nbytes + self._w_lexical.nbytes + self._vocabulary.idf.nbytes)

    def threshold(self, task: str) -> float:
        """The calibrated minimum probability for ``task``."""
        return float(self._thresholds[task])

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of each task for each (normalised, focused) text, shape ``(len(texts), len(tasks))``.

        All texts are embedded in one model call.
        """
        vectors = np.asarray(self._embeddings.embed_documents(list(texts)), dtype=np.float32)
        return self.probabilities(vectors, self._vocabulary.transform(texts))

    def probabilities(self, vectors: np.ndarray, lexical: np.ndarray) -> np.ndarray:
        """Softmax of the linear scores of precomputed features."""
        logits = vectors @ self._w_embedding.T + lexical @ self._w_lexical.T + self._bias
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return probabilities
