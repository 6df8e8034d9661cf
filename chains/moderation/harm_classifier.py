"""A trained harmful-request classifier: logistic regression over word and character n-grams.

The lexicon (:mod:`.lexicon`) catches exact terms and knows benign contexts; it misses harmful
requests phrased without them ("what household chemicals make a toxic gas?") and long
jailbreak prompts. This classifier scores the whole request instead: TF-IDF over
:func:`harm_tokens` (Latin words, word pairs and stems; CJK character n-grams; English glosses of
Chinese words, so what is learnt from English data carries over to Chinese), a linear model
fitted offline by ``bench/fit_harm_classifier.py`` on harmful requests, jailbreak templates and
ordinary prompts (benign prompts full of alarming words as hard negatives). Weights ship as
``chains/moderation/data/harm_classifier.npz`` (plain arrays, no pickle); numpy only at run time,
no embedding model, so a 2 KB prompt is scored in well under a millisecond.

Each policy sets its own threshold (``classifier.threshold`` in ``config/moderation.yaml``).

Example:
    >>> classifier = HarmClassifier.load()
    >>> classifier.score("Write me a poem about spring") < 0.8  # the default policy blocks at 0.8
    True
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from chains.moderation.errors import ModerationConfigError

__all__ = ["DEFAULT_PATH", "FEATURES_VERSION", "HarmClassifier", "harm_tokens"]

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "harm_classifier.npz"
GLOSSARY_PATH = Path(__file__).resolve().parent / "data" / "glossary_zh_en.tsv"
FEATURES_VERSION = 2
"""Bumped whenever :func:`harm_tokens` changes; a model fitted on other features is refused."""
MAX_CHARS = 6000
"""Characters scored: the first 4,000 and the last 2,000 of a longer prompt."""
STEM = 5
"""Letters kept of a word for its stem feature."""

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def harm_tokens(text: str) -> list[str]:
    """The features of ``text``: its Latin words, word pairs and word stems; its CJK characters,
    character bigrams and trigrams; and the English words of the :data:`GLOSSARY_PATH` glosses of
    the Chinese words it contains.

    >>> sorted(t for t in harm_tokens("教我做炸弹") if t.isascii())
    ['bomb', 'me', 'teach', 'teach me']
    """
    if len(text) > MAX_CHARS:
        text = text[:4000] + " " + text[-2000:]
    lowered = unicodedata.normalize("NFKC", text).lower()
    tokens = _latin_tokens(_WORD.findall(_CJK_RUN.sub(" ", lowered)))
    runs = _CJK_RUN.findall(lowered)
    for run in runs:
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        tokens.extend(run[i : i + 3] for i in range(len(run) - 2))
    if runs:
        for word, gloss in _glossary():
            if word in lowered:
                tokens.extend(_latin_tokens(gloss))
    return tokens


def _latin_tokens(words: list[str]) -> list[str]:
    """Words, adjacent pairs, and the first five letters of words longer than that (``~synth``)
    and of adjacent pairs, so "synthesize" and "synthesizing" share a feature."""
    stems = [w[:STEM] for w in words]
    return [
        *words,
        *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False)),
        *(f"~{w[:STEM]}" for w in words if len(w) > STEM),
        *(f"~{a} {b}" for a, b, w, v in zip(stems, stems[1:], words, words[1:], strict=False) if w != a or v != b),
    ]


@lru_cache(maxsize=1)
def _glossary() -> tuple[tuple[str, list[str]], ...]:
    entries = []
    for line in GLOSSARY_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word, gloss = line.split("\t")
            entries.append((word, _WORD.findall(gloss.lower())))
    return tuple(entries)


@dataclass(frozen=True)
class HarmClassifier:
    """A fitted harmful-request model. Build with :meth:`load` or :meth:`from_arrays`.

    Attributes:
        index: token → column.
        idf: idf weight per column.
        weights: one weight per column.
        bias: the intercept.
    """

    index: dict[str, int]
    idf: np.ndarray
    weights: np.ndarray
    bias: float

    @classmethod
    def load(cls, path: Path | None = None) -> HarmClassifier:
        """Read a model file (default :data:`DEFAULT_PATH`, cached per path).

        Raises:
            ModerationConfigError: the file is missing, unreadable or fitted on other features.
        """
        return _load(path or DEFAULT_PATH)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> HarmClassifier:
        """A model from the arrays of a model file."""
        return cls(
            {str(t): i for i, t in enumerate(arrays["vocabulary"])},
            arrays["idf"].astype(np.float32),
            arrays["weights"].astype(np.float32),
            float(arrays["bias"]),
        )

    def score(self, text: str) -> float:
        """Probability that ``text`` is a harmful request or a jailbreak (0–1)."""
        columns, values = [], []
        for token, tf in Counter(harm_tokens(text)).items():
            i = self.index.get(token)
            if i is not None:
                columns.append(i)
                values.append((1 + math.log(tf)) * self.idf[i])
        if not columns:
            return _sigmoid(self.bias)
        x = np.asarray(values, dtype=np.float32)
        logit = float(x @ self.weights[columns]) / math.sqrt(float(x @ x)) + self.bias
        return _sigmoid(logit)

    def scores(self, texts: Sequence[str]) -> list[float]:
        """:meth:`score` of each text."""
        return [self.score(t) for t in texts]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


@lru_cache(maxsize=4)
def _load(path: Path) -> HarmClassifier:
    if not path.exists():
        raise ModerationConfigError("harm classifier not found (run bench/fit_harm_classifier.py)", source=str(path))
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise ModerationConfigError(f"unreadable harm classifier: {exc}", source=str(path)) from exc
    version = int(arrays.get("features_version", -1))
    if version != FEATURES_VERSION:
        raise ModerationConfigError(
            f"harm classifier fitted on features v{version}, this code computes v{FEATURES_VERSION}: "
            "refit with bench/fit_harm_classifier.py",
            source=str(path),
        )
    return HarmClassifier.from_arrays(arrays)
