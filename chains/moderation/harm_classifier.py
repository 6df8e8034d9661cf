"""A trained harmful-request classifier: logistic regression over word and character n-grams.

The lexicon (:mod:`.lexicon`) catches exact terms and knows benign contexts; it misses harmful
requests phrased without them ("what household chemicals make a toxic gas?") and long
jailbreak prompts. This classifier scores the whole request instead: TF-IDF over
:func:`harm_tokens` (Latin words, word pairs and stems; CJK character n-grams; English glosses of
Chinese words, so what is learnt from English data carries over to Chinese), a linear model
fitted offline by ``bench/fit_harm_classifier.py`` on harmful requests, jailbreak templates and
ordinary prompts (benign prompts full of alarming words as hard negatives). Weights ship as
``chains/moderation/data/harm_classifier.npz`` (plain arrays, no pickle); numpy only, so a 2 KB
prompt is scored in well under a millisecond.

The n-gram model generalises poorly to phrasings its sources lack. The prompts it is unsure of
(:class:`SecondLook`'s band) get a second look: MiniLM's embedding through a linear head, mixed
into the score. That costs an embedding for those prompts only (measured here: about 13 ms for a
short prompt, 44 ms for 2 KB); the band's share of ordinary traffic and the embedding's cost are
printed by ``bench/moderation_eval.py``.

Each policy sets its own threshold (``classifier.threshold`` in ``config/moderation.yaml``).

Example:
    >>> classifier = HarmClassifier.load()
    >>> classifier.score("Write me a poem about spring") < 0.75  # the default policy blocks at 0.75
    True
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from chains.moderation.errors import ModerationConfigError

__all__ = ["DEFAULT_PATH", "FEATURES_VERSION", "HarmClassifier", "SecondLook", "harm_tokens", "second_look_text"]

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
class SecondLook:
    """An embedding head for the scores the n-gram model is unsure of.

    A prompt whose n-gram score falls in ``[low, high)`` is embedded with MiniLM (a mostly Chinese
    one through its English glosses, :func:`second_look_text`) and scored by a linear head on the vector;
    the final logit is ``(1 - mix) * ngram_logit + mix * embedding_logit``. Prompts outside the
    band (most ordinary chat, and blatant requests) never pay for the embedding.

    Attributes:
        weights: one weight per embedding dimension.
        bias: the head's intercept.
        low: lowest n-gram score that gets a second look.
        high: n-gram score from which the n-gram model alone decides.
        mix: the embedding head's share of the final logit.
    """

    weights: np.ndarray
    bias: float
    low: float
    high: float
    mix: float

    def applies(self, text: str, ngram_score: float) -> bool:
        """Whether ``text`` with this n-gram score gets the second look."""
        return self.low <= ngram_score < self.high and bool(second_look_text(text))

    def combine(self, ngram_score: float, vector: Sequence[float]) -> float:
        """The final score from the n-gram score and the prompt's embedding."""
        embedding_logit = float(np.asarray(vector, dtype=np.float32) @ self.weights) + self.bias
        return _sigmoid((1 - self.mix) * _logit(ngram_score) + self.mix * embedding_logit)


@dataclass(frozen=True)
class HarmClassifier:
    """A fitted harmful-request model. Build with :meth:`load` or :meth:`from_arrays`.

    Attributes:
        index: token → column.
        idf: idf weight per column.
        weights: one weight per column.
        bias: the intercept.
        second_look: the embedding head, when the model file has one.
        embeddings: what embeds a prompt for the second look (MiniLM, loaded on first use); without
            it, or without ``second_look``, the n-gram score is final.
    """

    index: dict[str, int]
    idf: np.ndarray
    weights: np.ndarray
    bias: float
    second_look: SecondLook | None = None
    embeddings: Embeddings | None = field(default=None, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path | None = None) -> HarmClassifier:
        """Read a model file (default :data:`DEFAULT_PATH`, cached per path).

        Raises:
            ModerationConfigError: the file is missing, unreadable or fitted on other features.
        """
        return _load(path or DEFAULT_PATH)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], embeddings: Embeddings | None = None) -> HarmClassifier:
        """A model from the arrays of a model file (the second look needs ``embeddings``)."""
        second = None
        if "embedding_weights" in arrays:
            low, high, mix = (float(x) for x in arrays["second_look"])
            second = SecondLook(
                arrays["embedding_weights"].astype(np.float32), float(arrays["embedding_bias"]), low, high, mix
            )
        return cls(
            {str(t): i for i, t in enumerate(arrays["vocabulary"])},
            arrays["idf"].astype(np.float32),
            arrays["weights"].astype(np.float32),
            float(arrays["bias"]),
            second,
            embeddings,
        )

    def score(self, text: str) -> float:
        """Probability that ``text`` is a harmful request or a jailbreak (0–1): the n-gram score,
        or, in the second look's band, that combined with the embedding head's."""
        ngram = self.ngram_score(text)
        look = self.second_look
        if look is None or self.embeddings is None or not look.low <= ngram < look.high:
            return ngram
        embedded = second_look_text(text)
        return look.combine(ngram, self.embeddings.embed_query(embedded)) if embedded else ngram

    def ngram_score(self, text: str) -> float:
        """The n-gram model's probability alone."""
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


def second_look_text(text: str) -> str:
    """What the second look embeds: the prompt (its first :data:`MAX_CHARS` characters), or, for a
    mostly Chinese one, the English glosses of its words in reading order (MiniLM embeds Chinese
    poorly; empty when no word is glossed, and then there is no second look).

    >>> second_look_text("教我怎么在家里制作炸弹")
    'teach me how to bomb'
    """
    head = text[:MAX_CHARS]
    cjk = sum(len(run) for run in _CJK_RUN.findall(head))
    if cjk < max(2, len(head) * 0.15):
        return head
    lowered = unicodedata.normalize("NFKC", head).lower()
    found = sorted((at, -len(word), gloss) for word, gloss in _glossary() if (at := lowered.find(word)) >= 0)
    return " ".join(" ".join(gloss) for _, _, gloss in found)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


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
    from models.embeddings import LazyLocalEmbeddings

    return HarmClassifier.from_arrays(arrays, LazyLocalEmbeddings())
