"""The OpenAI-compatible endpoints: ``/v1/chat/completions``, ``/v1/models``, ``/v1/embeddings``."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.server.gateway.state import gateway
from app.server.http.auth import ChatKey, ConsumerKey, check_model_allowed
from app.server.http.errors import ApiError
from app.server.http.schemas import ChatCompletionRequest, EmbeddingRequest
from app.server.http.timing import arrived
from app.server.routes import completions

__all__ = ["EMBEDDING_MODEL", "router"]

EMBEDDING_MODEL = "all-MiniLM-L6-v2"
"""The id ``/v1/embeddings`` answers to (the offline MiniLM of :mod:`models.embeddings`)."""

router = APIRouter(prefix="/v1", tags=["openai"])


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request, key: ChatKey) -> Response:
    """Chat through the router: ``model`` is a catalog name or ``auto``; ``stream`` gives SSE."""
    return await completions.chat(request, body, key)


@router.get("/models")
async def list_models(request: Request, key: ConsumerKey) -> dict[str, Any]:
    """The available catalog models, plus ``auto`` (the router) and the embedding model."""
    entries = [e for e in gateway(request).registry.entries() if e.availability.available]
    data = [{"id": "auto", "object": "model", "created": 0, "owned_by": "modelyard-router"}]
    data += [
        {
            "id": e.spec.name,
            "object": "model",
            "created": 0,
            "owned_by": e.spec.owner or e.spec.provider,
            "provider": e.spec.provider,
            "context_window": e.spec.context_window,
            "modalities": e.spec.modalities.model_dump(),
            "capabilities": e.spec.capability_names(),
        }
        for e in entries
    ]
    data.append({"id": EMBEDDING_MODEL, "object": "model", "created": 0, "owned_by": "modelyard-local"})
    if key is not None and key.allowed_models:  # a consumer key sees the models it may call
        data = [model for model in data if model["id"] == "auto" or key.allows(str(model["id"]))]
    return {"object": "list", "data": data}


@router.post("/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request, key: ConsumerKey) -> dict[str, Any]:
    """Embed text with the local MiniLM (384 dimensions, normalised)."""
    if body.model.lower() != EMBEDDING_MODEL.lower():
        raise ApiError(
            404,
            f"embedding model '{body.model}' does not exist; available: {EMBEDDING_MODEL}",
            param="model",
            code="model_not_found",
        )
    check_model_allowed(EMBEDDING_MODEL, key)
    call = gateway(request).open_call("embeddings", EMBEDDING_MODEL, key, started=arrived(request))
    vectors, tokens = await run_in_threadpool(_embed, body.texts())
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(v, body.encoding_format)}
        for i, v in enumerate(vectors)
    ]
    call.usage(tokens, 0, 0.0)
    call.settle()
    return {
        "object": "list",
        "data": data,
        "model": EMBEDDING_MODEL,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _embed(texts: list[str]) -> tuple[list[list[float]], int]:
    from models.embeddings import local_embeddings
    from models.tokens import count_tokens

    return local_embeddings().embed_documents(texts), sum(count_tokens(t) for t in texts)


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    import numpy as np

    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
