"""``POST /v1/chat/completions`` served without FastAPI's per-request machinery.

The gateway's hottest route spends more CPU in FastAPI's request handling (dependency solving,
body decoding, validation wrappers, response serialisation) than in everything Modelyard does
for it. This pure ASGI middleware answers that one route itself, calling the *same* handler
(:func:`app.server.routes.openai_compat.chat_completions`) with the same key check, the same
body model and the same error mapping — the FastAPI route stays registered, so the OpenAPI
schema, ``/docs`` and the behaviour are unchanged. Anything it is not sure about (a body that
is not JSON by its content type) is handed to FastAPI untouched.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.server.http.auth import authenticated_key
from app.server.http.disclosure import shown_to
from app.server.http.errors import error_response, status_of, validation_error
from app.server.http.limits import replay_body
from app.server.http.schemas import ChatCompletionRequest

__all__ = ["FastChatRoute"]

PATH = "/v1/chat/completions"


class FastChatRoute:
    """Serve ``POST /v1/chat/completions`` directly; pass every other request on."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self._route: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST" or not _json(scope):
            await self.app(scope, receive, send)
            return
        scope["route"] = self._chat_route(scope)  # what FastAPI would set (log labels read its path)
        raw = await _body(receive)
        if raw is None:  # the client went away before sending its body
            return
        request = Request(scope, replay_body(raw, receive))
        try:
            key = authenticated_key(request)  # admitted by the chat lifecycle (completions.chat)
            body = _parse(raw)
            from app.server.routes.openai_compat import chat_completions

            response = await chat_completions(body, request, key)
        except RequestValidationError as exc:
            response = error_response(validation_error(exc))
        except Exception as exc:  # the same mapping as the app's exception handlers
            response = error_response(shown_to(request, status_of(exc)))
        await response(scope, receive, send)

    def _chat_route(self, scope: Scope) -> Any:
        if self._route is None:
            app = scope.get("app")
            routes = getattr(getattr(app, "router", None), "routes", [])
            self._route = next((r for r in routes if getattr(r, "path", None) == PATH), None)
        return self._route


def _json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            return b"json" in value
    return True  # FastAPI decodes a body without a content type as JSON too


async def _body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _parse(raw: bytes) -> ChatCompletionRequest:
    """The body model, or the ``RequestValidationError`` FastAPI would raise for it."""
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {}}
        raise RequestValidationError([{**error, "ctx": {"error": exc.msg}}]) from None
    try:
        return ChatCompletionRequest.model_validate(data)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
