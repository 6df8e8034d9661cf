"""OpenAI's Responses API: ``POST /v1/responses``, ``GET`` and ``DELETE /v1/responses/{id}``.

A request is translated into a chat completion (:mod:`app.server.dialects.responses`) and served
by the one chat lifecycle, :func:`app.server.routes.completions.chat` (call, model check, cache,
routing, settlement, disconnects). Its JSON answer is translated back; its SSE stream is read event
by event and re-told as Responses events (:mod:`app.server.dialects.responses_events`).

Answers are stored per API key (unless ``store: false``) in :class:`~store.responses_db.ResponsesDB`,
so ``previous_response_id`` continues one. Another key's response is answered like an unknown one
(404), so ids do not leak across keys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from app.server.dialects.responses import (
    CHAT_TO_RESPONSES_FIELDS,
    ResponsesRequest,
    chat_request,
    input_items,
    new_id,
    response_from_chat,
    response_object,
)
from app.server.dialects.responses_events import ResponseEvents
from app.server.gateway.keys import ApiKey
from app.server.gateway.state import gateway
from app.server.http.auth import ChatKey, ConsumerKey
from app.server.http.errors import ApiError
from app.server.routes import completions
from app.server.routes.translating import translating
from store.responses_db import ResponsesDB

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["responses"])

Remember = Callable[[dict[str, Any]], Awaitable[None]]
"""Stores a finished Response object (with the conversation that led to it)."""

_PASSED_HEADERS = ("cache-control", "x-accel-buffering")


@router.post("/responses")
async def create_response(body: ResponsesRequest, request: Request, key: ChatKey) -> Response:
    """A model response through the router: ``model`` is a catalog name or ``auto``; ``stream`` gives SSE events."""
    store, owner = gateway(request).responses, _owner(key)
    history: list[dict[str, Any]] = []
    with translating(request, key, "responses", body.model, body.stream):
        if body.previous_response_id:
            previous = await asyncio.to_thread(store.get, owner, body.previous_response_id)
            if previous is None:
                raise _not_found(body.previous_response_id, "previous_response_id")
            history = previous.conversation()
        conversation = [*history, *input_items(body)]
        chat_body = chat_request(body, conversation, first_input=len(history))
    response_id, created_at = new_id("resp"), time.time()
    try:
        answer = await completions.chat(request, chat_body, key, endpoint="responses")
    except ApiError as exc:
        raise _in_responses_terms(exc) from None
    headers = {k: v for k, v in answer.headers.items() if k.startswith("x-modelyard") or k in _PASSED_HEADERS}
    remember = _rememberer(store, owner, conversation) if body.stored else None
    if body.stream:
        events = ResponseEvents(response_object(body, response_id, created_at))
        return StreamingResponse(_events(answer, events, remember), media_type="text/event-stream", headers=headers)
    result = response_from_chat(orjson.loads(bytes(answer.body)), body, response_id, created_at)
    if remember is not None:
        await remember(result)
    return Response(orjson.dumps(result), media_type="application/json", headers=headers)


@router.get("/responses/{response_id}")
async def get_response(response_id: str, request: Request, key: ConsumerKey) -> dict[str, Any]:
    """A stored response of this API key."""
    stored = await asyncio.to_thread(gateway(request).responses.get, _owner(key), response_id)
    if stored is None:
        raise _not_found(response_id, "response_id")
    return stored.response


@router.delete("/responses/{response_id}")
async def delete_response(response_id: str, request: Request, key: ConsumerKey) -> dict[str, Any]:
    """Remove a stored response of this API key."""
    if not await asyncio.to_thread(gateway(request).responses.delete, _owner(key), response_id):
        raise _not_found(response_id, "response_id")
    return {"id": response_id, "object": "response", "deleted": True}


def _owner(key: ApiKey | None) -> str:
    return key.id if key is not None else ""


def _not_found(response_id: str, param: str) -> ApiError:
    return ApiError(
        404,
        f"{param}: no stored response '{response_id}' for this API key (it was never stored, was deleted, "
        "was created with store: false, or belongs to another key)",
        param=param,
        code="response_not_found",
    )


def _in_responses_terms(error: ApiError) -> ApiError:
    """``error`` naming the Responses field where the chat pipeline named its chat translation."""
    name = CHAT_TO_RESPONSES_FIELDS.get(error.param or "")
    if name is None:
        return error
    message = f"{error.message} (the Responses field '{name}')"
    return ApiError(error.status, message, param=name, code=error.code, headers=error.headers, extra=error.extra)


def _rememberer(store: ResponsesDB, owner: str, conversation: list[dict[str, Any]]) -> Remember:
    async def remember(response: dict[str, Any]) -> None:
        await asyncio.to_thread(store.put, owner, response, conversation)

    return remember


async def _events(answer: Response, events: ResponseEvents, remember: Remember | None) -> AsyncIterator[bytes]:
    """The Responses event stream re-telling the chat stream of ``answer``; the response is stored
    when it finished (completed or incomplete), not after a failure."""
    chunks = _chat_chunks(answer)
    try:
        for event in events.start():
            yield _sse(event)
        async for chunk in chunks:
            if "error" in chunk:
                for event in events.fail(chunk["error"]):
                    yield _sse(event)
                return
            for event in events.feed(chunk):
                yield _sse(event)
        finished = events.finish()
        if remember is not None:
            await remember(events.response)
        for event in finished:
            yield _sse(event)
    finally:
        await chunks.aclose()  # closes the chat stream: it settles the call and the upstream


async def _chat_chunks(answer: Response) -> AsyncGenerator[dict[str, Any], None]:
    """The ``data:`` payloads of a chat SSE answer (a stream, or a cache replay's one body), ``[DONE]`` left out."""
    source: Any = answer.body_iterator if isinstance(answer, StreamingResponse) else _one(bytes(answer.body))
    buffer = b""
    try:
        async for piece in source:
            buffer += piece if isinstance(piece, bytes) else str(piece).encode()
            *complete, buffer = buffer.split(b"\n\n")
            for event in complete:
                for line in event.split(b"\n"):
                    if line.startswith(b"data: ") and line[6:].strip() != b"[DONE]":
                        yield orjson.loads(line[6:])
    finally:
        if hasattr(source, "aclose"):
            await source.aclose()


async def _one(body: bytes) -> AsyncIterator[bytes]:
    yield body


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
