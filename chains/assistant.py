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

from chains.moderation import moderated
from chains.rag import build_rag_chain
from chains.retrieval import DEFAULT_MIN_RELEVANCE, HybridRetriever

__all__ = ["build_assistant"]


def build_assistant(
    model: Runnable[Any, Any], *, policy: str = "default", collection: str | None = None, k: int = 4
) -> Runnable[Any, Any]:
    """``model`` behind moderation ``policy``; grounded in ``collection`` when one is given."""
    guarded = moderated(model, policy=policy)
    if collection is None:
        return guarded
    from knowledge import KnowledgeBase

    retriever = HybridRetriever(knowledge_base=KnowledgeBase(collection), k=k, min_relevance=DEFAULT_MIN_RELEVANCE)
    return build_rag_chain(retriever, guarded)
