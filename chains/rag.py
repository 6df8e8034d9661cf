"""The RAG chain: question → retrieve → numbered sources in the prompt → model → cited answer.

Built with LCEL only (``RunnablePassthrough.assign``, ``RunnableBranch``), so it streams, batches
and traces like any runnable. The model is a parameter: any runnable that takes chat messages
(a chat model, or the router once it exists).

Input: ``{"question": str, "history": [messages]?}`` or just the question as a string.

Output of ``invoke`` — a dict:

* ``question``: the question;
* ``sources``: the retrieved chunks, numbered as the prompt showed them — each
  ``{"n", "source", "file", "title", "heading", "page", "snippet", "text", "score"}``;
* ``answer``: the model's answer, citing sources as ``[1]``, ``[2]``…;
* ``citations``: the source numbers the answer actually cites (valid ones only);
* ``reply`` (when the model was called): ``{"response_metadata", "usage_metadata"}`` of the
  model's message — route, cost, moderation and provenance when the model is the moderated router.

``stream`` yields the same keys as partial dicts, in order: first ``{"question": …,
"sources": [...]}`` (before the model starts, so a UI can show the sources at once), then many
``{"answer": "<next piece>"}``, then ``{"reply": {...}}``, ``{"unsupported": [...]}`` and
``{"citations": [...]}``. Adding the chunks up
(``a + b``) gives the ``invoke`` result.

When no chunk reaches the retriever's relevance threshold, ``sources`` is empty, the model is
**not** called, ``answer`` says the knowledge base does not know (in Chinese for a Chinese
question), and ``refusal`` names the best match below the threshold: ``{"threshold", "best":
{"file", "heading", "score"} | None}``.

``answer_style="extractive"`` (for catalog models with ``answer_style: extractive``) gives the
model :data:`chains.extractive.EXTRACTIVE_PROMPT` — the sources as JSON — and expects an
:class:`chains.extractive.ExtractiveChatModel` (possibly behind moderation), which quotes the best
source sentences with their numbers. Either way ``unsupported`` lists the answer's sentences that
no source supports (the citation check; a quoted answer has none).

Example:
    >>> retriever = HybridRetriever(knowledge_base=kb, min_relevance=0.35)  # doctest: +SKIP
    >>> chain = build_rag_chain(retriever, model)                          # doctest: +SKIP
    >>> chain.invoke("How long does a refund take?")["answer"]             # doctest: +SKIP
    'Refunds are paid within 5 business days of receiving the return [1].'
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from operator import itemgetter
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import (
    Runnable,
    RunnableBranch,
    RunnableGenerator,
    RunnableLambda,
    RunnablePassthrough,
)
from langchain_core.runnables.utils import AddableDict

from chains.extractive import EXTRACTIVE_PROMPT, terms_of
from knowledge.lexical import cjk_share
from models.spec import ModelSpec

__all__ = [
    "DONT_KNOW_EN",
    "DONT_KNOW_ZH",
    "RAG_PROMPT",
    "amessage_to_answer",
    "answer_style_for",
    "build_rag_chain",
    "documents_to_sources",
    "dont_know_answer",
    "extract_citations",
    "format_sources",
    "message_to_answer",
    "no_sources_refusal",
    "question_input",
    "unsupported_sentences",
]

DONT_KNOW_EN = "I don't know: the knowledge base has nothing relevant to this question."
DONT_KNOW_ZH = "抱歉，我不知道：知识库中没有与这个问题相关的内容。"

SYSTEM_PROMPT = """You answer questions using only the numbered sources below.
- After each statement, cite the sources that support it by number in square brackets: [1] or [2][3].
- If the sources do not contain the answer, say that you don't know. Do not use outside knowledge.
- Answer in the language of the question, briefly.

Sources:
{context}"""

RAG_PROMPT = ChatPromptTemplate.from_messages(
    [("system", SYSTEM_PROMPT), MessagesPlaceholder("history", optional=True), ("human", "{question}")]
)
"""The default prompt; variables ``context``, ``question`` and optional ``history``."""

_CITATION = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_ANSWER_SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")
SUPPORT_SHARE = 0.5
"""An answer sentence counts as supported when a source holds at least this share of its terms."""
AnswerStyle = Literal["generative", "extractive"]


def documents_to_sources(documents: list[Document], snippet_chars: int = 240) -> list[dict[str, Any]]:
    """Retrieved documents → numbered, JSON-friendly source records (``n`` starts at 1)."""
    sources = []
    for number, document in enumerate(documents, start=1):
        meta = document.metadata
        text = document.page_content
        snippet = text if len(text) <= snippet_chars else text[:snippet_chars].rsplit(" ", 1)[0] + "…"
        sources.append(
            {
                "n": number,
                "source": meta.get("source", ""),
                "file": meta.get("file", ""),
                "title": meta.get("title", ""),
                "heading": meta.get("heading") or meta.get("title", ""),
                "page": meta.get("page"),
                "snippet": snippet,
                "text": text,
                "score": round(float(meta.get("score", 0.0)), 4),
            }
        )
    return sources


def format_sources(sources: list[dict[str, Any]]) -> str:
    """The prompt's context block: ``[n] file — heading`` then the chunk text, per source."""
    blocks = []
    for source in sources:
        label = " — ".join(part for part in (source["file"], source["heading"]) if part)
        page = f" (page {source['page']})" if source.get("page") else ""
        blocks.append(f"[{source['n']}] {label}{page}\n{source['text']}")
    return "\n\n".join(blocks)


def extract_citations(answer: str, source_count: int) -> list[int]:
    """Source numbers cited in ``answer`` as ``[1]``, ``[2][3]`` or ``[1, 2]`` (only 1..count)."""
    numbers = {int(n) for group in _CITATION.findall(answer) for n in re.split(r"[,;]", group)}
    return sorted(n for n in numbers if 1 <= n <= source_count)


def unsupported_sentences(answer: str, sources: list[dict[str, Any]]) -> list[str]:
    """The answer's sentences (of two terms or more) whose terms no single source mostly contains.

    Example:
        >>> unsupported_sentences("Refunds take 5 days [1]. We also sell cars.",
        ...                       [{"text": "Refunds take 5 business days."}])
        ['We also sell cars.']
    """
    source_terms = [terms_of(str(source.get("text", ""))) for source in sources]
    flagged = []
    for sentence in _ANSWER_SENTENCE.split(answer):
        claim = _CITATION.sub("", sentence).strip()
        terms = terms_of(claim)
        if len(terms) < 2:
            continue
        support = max((len(terms & known) / len(terms) for known in source_terms), default=0.0)
        if support < SUPPORT_SHARE:
            flagged.append(claim)
    return flagged


def dont_know_answer(question: str) -> str:
    """The "nothing relevant" answer, in Chinese for a mostly-Chinese question."""
    return DONT_KNOW_ZH if cjk_share(question) >= 0.3 else DONT_KNOW_EN


def answer_style_for(spec: ModelSpec | None, available: Sequence[ModelSpec]) -> AnswerStyle:
    """``extractive`` or ``generative``: the chosen model's catalog field; for the router (``None``),
    extractive unless some available text model can write grounded answers."""
    if spec is not None:
        return spec.answer_style
    writers = [s for s in available if "text" in s.modalities.output]
    return "generative" if any(s.answer_style == "generative" for s in writers) else "extractive"


def question_input(value: str | dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, str):
        return {"question": value}
    if "question" not in value:
        raise ValueError("the RAG chain needs a 'question' (a string, or a dict with that key)")
    return dict(value)


class _AnswerSplitter:
    """Turns the model's streamed message into ``answer`` text pieces, then one ``reply`` record
    with the message's ``response_metadata`` (route, cost, moderation, provenance) and usage."""

    def __init__(self) -> None:
        self.reply: Any = None

    def feed(self, chunk: dict[str, Any]) -> list[AddableDict]:
        out = []
        rest = {key: value for key, value in chunk.items() if key != "message"}
        if rest:
            out.append(AddableDict(rest))
        message = chunk.get("message")
        if message is not None:
            self.reply = message if self.reply is None else self.reply + message
            text = message if isinstance(message, str) else message.text
            if text:
                out.append(AddableDict(answer=text))
        return out

    def finish(self) -> list[AddableDict]:
        if self.reply is None or isinstance(self.reply, str):
            return []
        return [
            AddableDict(
                reply={
                    "response_metadata": dict(self.reply.response_metadata),
                    "usage_metadata": dict(getattr(self.reply, "usage_metadata", None) or {}),
                }
            )
        ]


def message_to_answer(chunks: Iterator[dict[str, Any]]) -> Iterator[AddableDict]:
    splitter = _AnswerSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.finish()


async def amessage_to_answer(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[AddableDict]:
    splitter = _AnswerSplitter()
    async for chunk in chunks:
        for piece in splitter.feed(chunk):
            yield piece
    for piece in splitter.finish():
        yield piece


def _prompt_values(state: dict[str, Any]) -> dict[str, Any]:
    values = {"question": state["question"], "context": format_sources(state["sources"])}
    if state.get("history"):
        values["history"] = state["history"]
    return values


def _extractive_values(state: dict[str, Any]) -> dict[str, Any]:
    keep = ("n", "file", "heading", "text")
    sources = [{key: source.get(key) for key in keep} for source in state["sources"]]
    return {"question": state["question"], "sources_json": json.dumps({"sources": sources}, ensure_ascii=False)}


def no_sources_refusal(retriever: BaseRetriever, question: str) -> dict[str, Any]:
    """What the refusal says about the search: the threshold and the best match below it."""
    threshold = retriever.threshold(question) if hasattr(retriever, "threshold") else None
    best = retriever.best_match(question) if hasattr(retriever, "best_match") else None
    found = None
    if best is not None:
        meta = best.metadata
        found = {
            "file": meta.get("file", ""),
            "heading": meta.get("heading") or meta.get("title", ""),
            "score": round(float(meta.get("score", 0.0)), 4),
        }
    return {"threshold": threshold, "best": found}


def build_rag_chain(
    retriever: BaseRetriever,
    model: Runnable[Any, Any],
    *,
    prompt: ChatPromptTemplate = RAG_PROMPT,
    snippet_chars: int = 240,
    answer_style: AnswerStyle = "generative",
) -> Runnable[str | dict[str, Any], dict[str, Any]]:
    """Assemble the RAG chain (see the module docstring for input and output).

    Args:
        retriever: finds the sources; give it a ``min_relevance`` (e.g.
            :class:`chains.retrieval.HybridRetriever` with ``DEFAULT_MIN_RELEVANCE``) so that
            unrelated questions get "I don't know" instead of a guess.
        model: a runnable taking chat messages and returning a message (or text).
        prompt: a chat prompt with ``context`` and ``question`` variables.
        snippet_chars: length of the ``snippet`` shown for each source.
        answer_style: ``"extractive"`` sends the sources as JSON to an extractive model (see the
            module docstring) instead of ``prompt``.
    """

    def number_sources(documents: list[Document]) -> list[dict[str, Any]]:
        return documents_to_sources(documents, snippet_chars)

    to_sources = RunnableLambda(number_sources)
    retrieve = RunnablePassthrough.assign(sources=itemgetter("question") | retriever | to_sources)
    if answer_style == "extractive":
        to_prompt = RunnableLambda(_extractive_values) | EXTRACTIVE_PROMPT
    else:
        to_prompt = RunnableLambda(_prompt_values) | prompt
    generate = (
        RunnablePassthrough.assign(message=to_prompt | model) | RunnableGenerator(message_to_answer, amessage_to_answer)
    ).with_config(run_name="generate")
    dont_know = RunnablePassthrough.assign(
        answer=RunnableLambda(lambda state: dont_know_answer(state["question"])),
        refusal=RunnableLambda(lambda state: no_sources_refusal(retriever, state["question"])),
    ).with_config(run_name="dont_know")
    answer = RunnableBranch((lambda state: not state["sources"], dont_know), generate)
    check = RunnablePassthrough.assign(
        unsupported=RunnableLambda(
            lambda state: unsupported_sentences(state["answer"], state["sources"]) if state["sources"] else []
        )
    )
    cite = check | RunnablePassthrough.assign(
        citations=RunnableLambda(lambda state: extract_citations(state["answer"], len(state["sources"])))
    )
    chain = RunnableLambda(question_input) | retrieve | answer | cite
    return chain.with_config(run_name="rag")
