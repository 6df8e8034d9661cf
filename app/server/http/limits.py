"""An ASGI middleware that refuses request bodies over a size limit with 413, in the shape of the
API the path speaks (OpenAI's by default; e.g. Anthropic's on ``/v1/messages``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.http.errors import error_body

__all__ = ["BodySizeLimit", "ErrorBody", "replay_body"]

ErrorBody = Callable[[int, str], dict[str, Any]]
"""``(status, message)`` → an API's JSON error body."""


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` (already read) to the app once, then defers to ``receive``."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class BodySizeLimit:
    """Answer 413 when the body exceeds ``max_bytes``.

    A declared ``Content-Length`` is checked before anything is read. A body without one
    (chunked transfer) is read here up to the limit and handed on from memory, so an oversize
    chunked body is refused before the application sees a byte of it.

    Args:
        app: the wrapped ASGI application.
        max_bytes: the largest body accepted.
        shapes: path → the error body of the API served there (OpenAI's for any other path).
        larger: path prefix → its own limit, for the few routes that take files (``/v1/files``).

    Example:
        >>> from app.server.dialects.anthropic import error_body as anthropic_error
        >>> limited = BodySizeLimit(app, 1_000_000, shapes={"/v1/messages": anthropic_error})  # doctest: +SKIP
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        shapes: Mapping[str, ErrorBody] | None = None,
        larger: Mapping[str, int] | None = None,
    ):
        self.app, self.max_bytes, self.shapes = app, max_bytes, dict(shapes or {})
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit = next((size for prefix, size in self.larger.items() if scope["path"].startswith(prefix)), self.max_bytes)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > limit:
                await self._refuse(scope["path"], limit, send)
                return
            await self.app(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._refuse(scope["path"], limit, send)
                return
        await self.app(scope, replay_body(bytes(body), receive), send)

    async def _refuse(self, path: str, limit: int, send: Send) -> None:
        setting = "GatewaySettings.max_body_bytes" if limit == self.max_bytes else "this route's own limit"
        message = f"the request body is larger than {limit} bytes; send less (the limit is {setting})"
        shape = self.shapes.get(path)
        body = shape(413, message) if shape is not None else error_body(413, message, code="body_too_large")
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
