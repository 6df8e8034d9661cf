"""LangServe routes: the customer-service bot at ``/support`` and plain RAG at ``/rag``.

Both answer from one knowledge-base collection (``shop`` by default) with the router as the
model; ``/support`` adds moderation (policy ``support``) around it. Each gets LangServe's
``invoke``, ``batch``, ``stream`` and ``playground`` endpoints.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from langserve import add_routes
from pydantic import BaseModel, Field

from app.server.http.auth import require_chain_key
from chains.assistant import build_assistant
from chains.rag import build_rag_chain
from chains.retrieval import DEFAULT_MIN_RELEVANCE, HybridRetriever
from routers.router import RouterRunnable

__all__ = ["QuestionInput", "add_chain_routes"]


class QuestionInput(BaseModel):
    """What ``/support`` and ``/rag`` take."""

    question: str = Field(min_length=1)
    """The customer's question."""
    history: list[Any] = []
    """Earlier turns as chat messages (``[("human", "..."), ("ai", "...")]`` or message dicts)."""


def add_chain_routes(app: FastAPI, router: RouterRunnable, collection: str) -> None:
    """Mount ``/support`` and ``/rag`` on ``app``."""
    from knowledge import KnowledgeBase

    support = build_assistant(router, policy="support", collection=collection)
    retriever = HybridRetriever(knowledge_base=KnowledgeBase(collection), min_relevance=DEFAULT_MIN_RELEVANCE)
    rag = build_rag_chain(retriever, router)
    for chain, path in ((support, "/support"), (rag, "/rag")):
        # the chains' inferred schemas are loose; name the types so LangServe validates both ways
        add_routes(
            app,
            chain.with_types(input_type=QuestionInput, output_type=dict[str, Any]),
            path=path,
            dependencies=[Depends(require_chain_key)],  # the same API keys as /v1
        )
