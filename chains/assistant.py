"""The chat assistant every surface shares: moderation around a model (or the router), with
optional grounding in a knowledge-base collection.

Without a collection: ``moderated(model)`` — input screening and PII masking, the model,
output review, placeholders restored, provenance. Input: messages or ``{"messages", ...hints}``;
output: an ``AIMessage`` (streamed as chunks) whose ``response_metadata`` carries ``route``
(when ``model`` is the router), ``moderation`` and ``provenance``.

With a collection: the RAG chain (:mod:`chains.rag`) with the moderated model as its model.
Input ``{"question", "history"}``; output the RAG dict (``sources``, ``answer``, ``citations``).

Example:
    >>> assistant = build_assistant(RouterRunnable.from_config(), collection="shop")  # doctest: +SKIP
    >>> assistant.invoke({"question": "How long do refunds take?"})["citations"]     # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable

from chains.extractive import ExtractiveChatModel
from chains.moderation import moderated
from chains.rag import AnswerStyle, build_rag_chain
from chains.retrieval import DEFAULT_MIN_RELEVANCE, DEFAULT_MIN_RELEVANCE_ZH, HybridRetriever

__all__ = ["build_assistant"]


def build_assistant(
    model: Runnable[Any, Any],
    *,
    policy: str = "default",
    collection: str | None = None,
    k: int = 4,
    answer_style: AnswerStyle = "generative",
) -> Runnable[Any, Any]:
    """``model`` behind moderation ``policy``; grounded in ``collection`` when one is given.

    With a collection and ``answer_style="extractive"`` (the catalog field of models too small to
    follow a RAG prompt) the answer quotes the sources instead of calling ``model``; moderation
    still screens the question and reviews the quote.
    """
    if collection is None:
        return moderated(model, policy=policy)
    from knowledge import KnowledgeBase

    retriever = HybridRetriever(
        knowledge_base=KnowledgeBase(collection),
        k=k,
        min_relevance=DEFAULT_MIN_RELEVANCE,
        min_relevance_cjk=DEFAULT_MIN_RELEVANCE_ZH,
    )
    answerer = ExtractiveChatModel() if answer_style == "extractive" else model
    return build_rag_chain(retriever, moderated(answerer, policy=policy), answer_style=answer_style)
