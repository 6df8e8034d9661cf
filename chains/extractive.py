"""Extractive answers: quote the retrieved sentences that answer the question, with ``[n]`` citations.

For models too small to follow a RAG prompt (a catalog entry with ``answer_style: extractive``,
such as the bundled SmolLM2-135M), the RAG chain does not ask the model to write an answer. It
quotes, verbatim, the one or two source sentences that best cover the question's terms, each
followed by the number of its source. Nothing is invented, so the answer holds the source's fact
whenever retrieval found the right chunk.

Sentences are scored by the IDF-weighted share of the question's terms (stemmed English words,
jieba-cut Chinese words and Chinese character pairs, :func:`knowledge.lexical.tokenize`) that they
contain, counting terms of their section heading at half weight, plus a small bonus for the
higher-ranked source. Questions inside a source (an FAQ's question line) and headings are never
quoted.

:class:`ExtractiveChatModel` packages this as a LangChain chat model that reads the sources from
:data:`EXTRACTIVE_PROMPT`'s JSON system message, so the chain keeps moderation around it (input
screening, PII masking, output review) exactly as around a real model.

Example:
    >>> sources = [{"n": 1, "file": "returns.md", "heading": "Returns",
    ...             "text": "You can return most items within 30 days of delivery."}]
    >>> extractive_answer("How long do I have to return an item?", sources)
    'You can return most items within 30 days of delivery. [1]'
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.chat_models import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from knowledge.lexical import tokenize

__all__ = [
    "EXTRACTIVE_MODEL",
    "EXTRACTIVE_PROMPT",
    "ExtractiveChatModel",
    "Sentence",
    "best_sentences",
    "extractive_answer",
    "source_sentences",
    "terms_of",
]

EXTRACTIVE_MODEL = "extractive"
"""The ``modelyard_model`` an extractive answer reports."""

EXTRACTIVE_PROMPT = ChatPromptTemplate.from_messages(
    [("system", "{sources_json}"), MessagesPlaceholder("history", optional=True), ("human", "{question}")]
)
"""The prompt for :class:`ExtractiveChatModel`: the numbered sources as JSON, then the question."""

_SENTENCE_END = re.compile(r"(?<=[.!?。！？；])\s+|(?<=[。！？；])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
HEADING_WEIGHT = 0.5
"""Weight of a question term found only in the sentence's section heading."""
RANK_BONUS = 0.05
"""Added to sentences of source [1], half of it to [2], a third to [3], ..."""
SECOND_SENTENCE_SHARE = 0.6
"""A second sentence is quoted when it scores at least this share of the best one."""


@dataclass(frozen=True)
class Sentence:
    """One quotable sentence of a source."""

    text: str
    source: int
    """The source's number ``n``."""
    terms: frozenset[str]
    heading_terms: frozenset[str]


def terms_of(text: str) -> set[str]:
    """Search terms plus, for Chinese, character pairs (robust to jieba cutting words differently)."""
    terms = set(tokenize(text))
    for run in _CJK_RUN.findall(text):
        terms.update(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def _units(text: str) -> Iterator[str]:
    """Paragraph text joined across wrapped lines; list items and table rows kept as their own lines."""
    for block in re.split(r"\n\s*\n", text):
        paragraph: list[str] = []
        for line in block.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or set(stripped) <= set("|-: "):
                continue
            if _LIST_ITEM.match(stripped) or stripped.startswith("|"):
                if paragraph:
                    yield " ".join(paragraph)
                    paragraph = []
                yield _LIST_ITEM.sub("", stripped).strip("| ").replace(" | ", " · ")
            else:
                paragraph.append(stripped)
        if paragraph:
            yield " ".join(paragraph)


def source_sentences(source: dict[str, Any]) -> list[Sentence]:
    """The quotable sentences of one source record (``n``, ``text``, ``heading``)."""
    heading_terms = frozenset(terms_of(str(source.get("heading") or "")))
    sentences = []
    for unit in _units(str(source.get("text", ""))):
        for piece in _SENTENCE_END.split(unit):
            piece = piece.strip()
            if len(piece) < 4 or piece.endswith(("?", "？")):
                continue
            sentences.append(Sentence(piece, int(source["n"]), frozenset(terms_of(piece)), heading_terms))
    return sentences


def _idf(question_terms: set[str], sentences: list[Sentence]) -> dict[str, float]:
    """IDF of each question term over the candidate sentences (rarer = more telling)."""
    count = len(sentences) or 1
    return {
        term: math.log(1 + count / (1 + sum(1 for s in sentences if term in s.terms or term in s.heading_terms)))
        for term in question_terms
    }


def _score(sentence: Sentence, idf: dict[str, float], total: float) -> float:
    found = sum(weight for term, weight in idf.items() if term in sentence.terms)
    found += HEADING_WEIGHT * sum(
        weight for term, weight in idf.items() if term not in sentence.terms and term in sentence.heading_terms
    )
    return found / total + RANK_BONUS / sentence.source


def best_sentences(question: str, sources: list[dict[str, Any]], limit: int = 2) -> list[Sentence]:
    """Up to ``limit`` sentences that best answer ``question``, best first (never two near-copies)."""
    sentences = [sentence for source in sources for sentence in source_sentences(source)]
    if not sentences:
        return []
    idf = _idf(terms_of(question), sentences)
    total = sum(idf.values())
    if not total:
        return [sentences[0]]
    ranked = sorted(sentences, key=lambda s: _score(s, idf, total), reverse=True)
    best = _score(ranked[0], idf, total)
    chosen = [ranked[0]]
    for sentence in ranked[1:]:
        if len(chosen) >= limit or _score(sentence, idf, total) < SECOND_SENTENCE_SHARE * best:
            break
        overlap = len(sentence.terms & chosen[0].terms) / max(1, len(sentence.terms | chosen[0].terms))
        if overlap < 0.6:
            chosen.append(sentence)
    return chosen


def extractive_answer(question: str, sources: list[dict[str, Any]], limit: int = 2) -> str:
    """The quoted sentences, each followed by ``[n]``; source [1]'s text when no sentence can be split off."""
    chosen = best_sentences(question, sources, limit)
    if not chosen:
        return f"{str(sources[0].get('text', '')).strip()[:300]} [{sources[0]['n']}]" if sources else ""
    return " ".join(f"{s.text} [{s.source}]" for s in chosen)


class ExtractiveChatModel(BaseChatModel):
    """A chat model that answers by quoting the sources of :data:`EXTRACTIVE_PROMPT` (no generation).

    The system message is ``{"sources": [...]}`` (the RAG chain's numbered source records); the
    last human message is the question.

    Example:
        >>> system = SystemMessage(json.dumps({"sources": [{"n": 1, "text": "Refunds take 5 days."}]}))
        >>> ExtractiveChatModel().invoke([system, ("human", "How long do refunds take?")]).content
        'Refunds take 5 days. [1]'
    """

    max_sentences: int = 2
    """How many sentences to quote at most."""

    @property
    def _llm_type(self) -> str:
        return EXTRACTIVE_MODEL

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_model_name"] = kwargs.get("model") or EXTRACTIVE_MODEL
        return params

    def _answer(self, messages: list[BaseMessage]) -> str:
        system = next((m for m in messages if isinstance(m, SystemMessage)), None)
        question = next((m.text for m in reversed(messages) if m.type == "human"), "")
        try:
            sources = json.loads(system.text)["sources"] if system is not None else []
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("the extractive model needs a JSON system message with 'sources'") from exc
        return extractive_answer(question, sources, self.max_sentences)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(content=self._answer(messages), response_metadata={"modelyard_model": EXTRACTIVE_MODEL})
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._answer(messages)
        for piece in re.findall(r"\S+\s*", text):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", response_metadata={"modelyard_model": EXTRACTIVE_MODEL})
        )
