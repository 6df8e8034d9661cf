"""The lexical half of hybrid search: tokenising (English and Chinese) and a BM25 index.

Tokens are lower-cased words with English stop words removed and the rest stemmed (Snowball,
via PyStemmer), so "returns", "returned" and "return" meet. Runs of Chinese characters are cut
into words by jieba in search mode, which also emits the shorter words inside long ones
("退货政策" → "退货", "政策", "退货政策"); the MiniLM embedding model reads Chinese poorly, so
for Chinese this lexical side carries most of the weight.

Besides BM25 ranking (``bm25s``), the index answers how much of a query a chunk *covers*:
the IDF-weighted share of the query's terms that occur in it, a number in [0, 1] that means
the same thing in every collection — used for the "nothing relevant" threshold.

Example:
    >>> tokenize("How do I return shoes?")
    ['return', 'shoe']
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from functools import lru_cache
from typing import Any

import numpy as np

__all__ = ["LexicalIndex", "cjk_share", "tokenize"]

_CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK_RANGES}]+|[^\W_{_CJK_RANGES}]+")
_CJK = re.compile(rf"[{_CJK_RANGES}]")

ENGLISH_STOP_WORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below
    between both but by can could did do does doing down during each few for from further had
    has have having he her here hers him his how i if in into is it its itself just me more most
    my myself no nor not of off on once only or other our ours out over own same she should so
    some such than that the their theirs them then there these they this those through to too
    under until up very was we were what when where which while who whom why will with would
    you your yours yourself please tell know get""".split()
)
CHINESE_STOP_WORDS = frozenset(
    """的 了 是 在 我 你 您 他 她 它 我们 你们 他们 吗 呢 吧 啊 呀 和 与 及 或 就 都 也 还 要 会 能
    可以 怎么 怎样 怎么样 如何 什么 哪些 哪个 哪里 哪儿 多少 多少钱 钱 多久 多长 时间 长时间 多长时间 需要
    有 没有 这 那 这个 那个 个 一 为 对 把 被 从 到 请 问 请问 么 得 地 着 过 而 又 为什么""".split()
)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word) if word.isascii() and word.isalpha() else word


def tokenize(text: str) -> list[str]:
    """Split text into search terms: stemmed English words and jieba-cut Chinese words."""
    terms: list[str] = []
    for match in _TOKEN.finditer(text.lower()):
        piece = match.group()
        if _CJK.match(piece):
            words = _jieba().lcut_for_search(piece)
            terms.extend(word for word in words if word.strip() and word not in CHINESE_STOP_WORDS)
        elif piece not in ENGLISH_STOP_WORDS:
            terms.append(_stem(piece))
    return terms


def cjk_share(text: str) -> float:
    """The share of Chinese characters among the letters of ``text`` (0 when there are none)."""
    letters = [ch for ch in text if ch.isalnum()]
    return sum(1 for ch in letters if _CJK.match(ch)) / len(letters) if letters else 0.0


class LexicalIndex:
    """BM25 over a fixed list of texts, plus the IDF-weighted query coverage of each text.

    Example:
        >>> index = LexicalIndex(["Returns within 30 days.", "We ship worldwide."])
        >>> [position for position, _ in index.search(tokenize("shipping"), 2)]
        [1]
    """

    def __init__(self, texts: list[str]):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG on import
        tokens = [tokenize(text) for text in texts]
        self._terms = [frozenset(doc) for doc in tokens]
        frequencies = Counter(term for doc in self._terms for term in doc)
        self._size = len(texts)
        self._idf = {term: self._idf_of(count) for term, count in frequencies.items()}
        self._bm25: bm25s.BM25 | None = None
        if texts:
            self._bm25 = bm25s.BM25()
            self._bm25.index(tokens, show_progress=False)

    def __len__(self) -> int:
        return self._size

    def _idf_of(self, document_frequency: int) -> float:
        return math.log(1 + (self._size - document_frequency + 0.5) / (document_frequency + 0.5))

    def scores(self, query_terms: list[str]) -> np.ndarray:
        """The BM25 score of every text for the query, by position (0 where no term matches).

        Example:
            >>> LexicalIndex(["Returns within 30 days.", "We ship worldwide."]).scores(["ship"]).round(3).tolist()
            [0.0, 0.326]
        """
        known = [term for term in query_terms if self._bm25 is not None and term in self._bm25.vocab_dict]
        if not known or self._bm25 is None:
            return np.zeros(self._size)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float64)

    def search(self, query_terms: list[str], limit: int) -> list[tuple[int, float]]:
        """The ``limit`` best positions by BM25 score (only those matching some term)."""
        return self.top(self.scores(query_terms), limit)

    @staticmethod
    def top(scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` best ``(position, score)`` pairs of :meth:`scores`, best first, scores > 0."""
        limit = min(limit, len(scores))
        if limit <= 0:
            return []
        top = np.argpartition(-scores, limit - 1)[:limit]
        ranked = sorted(top, key=lambda position: -scores[position])
        return [(int(position), float(scores[position])) for position in ranked if scores[position] > 0]

    def coverage(self, query_terms: list[str], position: int) -> float:
        """IDF-weighted share of the query's distinct terms that occur in text ``position``."""
        unique = set(query_terms)
        unseen = self._idf_of(0)
        total = sum(self._idf.get(term, unseen) for term in unique)
        if not total:
            return 0.0
        found = sum(self._idf.get(term, unseen) for term in unique if term in self._terms[position])
        return found / total
