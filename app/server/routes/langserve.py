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

from app.server.gateway.warmup import Once
from app.server.http.auth import require_chain_key
from app.server.http.errors import ApiError
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


def add_chain_routes(app: FastAPI, router: RouterRunnable, collection: str, knowledge: Once | None = None) -> None:
    """Mount ``/support`` and ``/rag`` on ``app``; ``knowledge`` (ingest the sample collection
    once) runs before the first call, and its failure is a 503 naming the cause."""

    async def knowledge_ready() -> None:
        if knowledge is None:
            return
        await knowledge.arun()
        if knowledge.error is not None:
            raise ApiError(
                503,
                f"the knowledge base '{collection}' cannot be opened ({type(knowledge.error).__name__}: "
                f"{str(knowledge.error)[:200]}); the other routes still serve. Rebuild it with "
                f"`python -m knowledge delete {collection}` and restart (or move the data folder's chroma/ away)",
                code="knowledge_unavailable",
            )

    from knowledge import KnowledgeBase

    support = build_assistant(router, policy="support", collection=collection)
    retriever = HybridRetriever(knowledge_base=KnowledgeBase(collection), min_relevance=DEFAULT_MIN_RELEVANCE)
    rag = build_rag_chain(retriever, router)
    for chain, path in ((support, "/support"), (rag, "/rag")):
        # the chains' inferred schemas are loose; name the types so LangServe validates both ways
        add_routes(
            app,
            chain.with_types(input_type=QuestionInput, output_type=dict[str, Any]),  # type: ignore[arg-type]
            path=path,
            dependencies=[Depends(require_chain_key), Depends(knowledge_ready)],  # the same API keys as /v1
        )
