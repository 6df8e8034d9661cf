"""Text helpers shared by the task classifier's rules and its semantic index.

* :func:`normalise` — Unicode NFKC, so full-width ``：？，`` match the same rules as ``:?,``.
* :func:`focus` — the part of a long prompt the classifier reads (its head and tail).
* :func:`cjk_ratio` — how much of the text is Chinese/Japanese script, which the English
  MiniLM model cannot read, so the lexical features weigh more.
* :func:`lexical_features` — words for Latin script, characters and character bigrams for
  CJK runs, digits folded to ``0``, maths operators kept.

Example:
    >>> lexical_features("翻译成 English 42")
    ['english', '0', '翻', '译', '成', '翻译', '译成']
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["cjk_ratio", "focus", "lexical_features", "normalise"]

_CJK = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[a-z]+|\d+|[+\-*/=^%×÷²³√∫<>]")


def normalise(text: str) -> str:
    """NFKC-normalised text (full-width forms become ASCII), stripped."""
    return unicodedata.normalize("NFKC", text).strip()


def focus(text: str, head: int, tail: int) -> str:
    """The first ``head`` and last ``tail`` characters of ``text`` (all of it when short)."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n…\n{text[-tail:]}" if tail else text[:head]


def cjk_ratio(text: str) -> float:
    """Share of CJK characters among the letters of ``text`` (0.0 when it has none)."""
    cjk = len(_CJK_CHAR.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    return cjk / (cjk + latin) if cjk + latin else 0.0


def lexical_features(text: str) -> list[str]:
    """Tokens for the lexical similarity: Latin words, then CJK characters and bigrams."""
    lowered = text.lower()
    words = ["0" if token.isdigit() else token for token in _WORD.findall(_CJK_RUN.sub(" ", lowered))]
    grams: list[str] = []
    for run in _CJK_RUN.findall(lowered):
        grams.extend(run)
        grams.extend(run[i : i + 2] for i in range(len(run) - 1))
    return words + grams
