"""``POST /v1/messages``: Anthropic's Messages API over the gateway's one chat lifecycle.

The request is translated into a :class:`~app.server.http.schemas.ChatCompletionRequest`
(:mod:`app.server.dialects.anthropic`) and served by :func:`app.server.routes.completions.chat`,
which opens, routes, caches, accounts and settles the call exactly as for ``/v1/chat/completions``.
Its JSON answer is translated into an Anthropic ``message``; its SSE body is wrapped, event by
event, into Anthropic's stream (:mod:`app.server.dialects.anthropic_stream`) — the wrapped body
is still the one that settles the call and closes the upstream when the client goes away.

Every error — no or bad key (``x-api-key`` or ``Authorization: Bearer``), a malformed body, a
refused field, an unknown model, a failed upstream — has Anthropic's shape
``{"type": "error", "error": {"type": ..., "message": ...}}`` and the status the OpenAI route
gives, except that a malformed body is a 400 (Anthropic's status for it) rather than a 422.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.server.dialects import anthropic
from app.server.dialects.anthropic_stream import MessageStream
from app.server.http.auth import ChatKey
from app.server.http.disclosure import shown_to
from app.server.http.errors import ApiError, status_of, validation_error
from app.server.routes import completions
from app.server.routes.translating import translating

__all__ = ["AnthropicErrorRoute", "router"]

_PASSED_HEADERS = frozenset({"content-type", "content-length"})
"""Headers of the chat answer not copied onto the translated one (its body and type change)."""


class AnthropicErrorRoute(APIRoute):
    """A route whose every error — the key check's, validation's and the handler's — has Anthropic's shape.

    Example:
        >>> router = APIRouter(route_class=AnthropicErrorRoute)
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer_in_anthropic_shape(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                invalid = validation_error(exc)
                error = ApiError(400, invalid.message, param=invalid.param, code=invalid.code)
            except StarletteHTTPException as exc:
                error = ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
            except Exception as exc:  # the same mapping as the app's exception handlers
                error = shown_to(request, status_of(exc))
            body = anthropic.error_body(error.status, _in_messages_terms(error))
            return JSONResponse(body, status_code=error.status, headers=error.headers)

        return answer_in_anthropic_shape


def _in_messages_terms(error: ApiError) -> str:
    """``error``'s message, naming the Messages API field where the chat pipeline named its chat translation."""
    name = anthropic.CHAT_TO_MESSAGES_FIELDS.get(error.param or "")
    return error.message if name is None else f"{error.message} (the Messages API field '{name}')"


router = APIRouter(prefix="/v1", tags=["anthropic"], route_class=AnthropicErrorRoute)


@router.post("/messages")
async def messages(body: anthropic.MessagesRequest, request: Request, key: ChatKey) -> Response:
    """Chat in Anthropic's Messages API: ``model`` is a catalog name or ``auto``; ``stream`` gives SSE."""
    with translating(request, key, "messages", body.model, body.stream):
        chat_body = anthropic.to_chat_request(body)
    answer = await completions.chat(request, chat_body, key, endpoint="messages", check_answer=anthropic.check_answer)
    headers = {name: value for name, value in answer.headers.items() if name not in _PASSED_HEADERS}
    if isinstance(answer, StreamingResponse):
        events = _anthropic_events(answer.body_iterator, MessageStream(body.stop_sequences))
        return StreamingResponse(events, media_type="text/event-stream", headers=headers)
    if answer.media_type == "text/event-stream":  # a cache hit replayed as one SSE body
        translated = MessageStream(body.stop_sequences).feed(bytes(answer.body))
        return Response(translated, media_type="text/event-stream", headers=headers)
    message = anthropic.to_message(orjson.loads(answer.body), body.stop_sequences)
    return Response(orjson.dumps(message), media_type="application/json", headers=headers)


async def _anthropic_events(source: AsyncIterable[Any], stream: MessageStream) -> AsyncIterator[bytes]:
    """``source`` (the chat's SSE body) as Anthropic events; read to its end even after an error event,
    so the call is settled with what was generated, and closed when this stream is."""
    try:
        async for piece in source:
            translated = stream.feed(piece if isinstance(piece, bytes) else str(piece).encode())
            if translated:
                yield translated
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()
