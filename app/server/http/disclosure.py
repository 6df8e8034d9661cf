"""Upstream error text reaches the admin only: consumers get an attempt's model, deployment and class.

Two places carry it to a caller: the 502 of a request whose every attempt failed (``error.message``
and ``error.attempts``, see :func:`shown_to`) and the ``x-modelyard-route`` header of an answer that
came after failed attempts (:class:`RouteHeaderGuard`). The admin — the master key, or without one a
caller on this machine under an admin host name — sees them whole; so does the request log.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.server.http.auth import is_admin
from app.server.http.errors import ApiError
from app.server.http.headers import ROUTE_HEADER, route_header
from app.server.http.upstream_text import reason_without_upstream_text

__all__ = ["RouteHeaderGuard", "shown_to"]

_ROUTE_HEADER = ROUTE_HEADER.encode()


def shown_to(request: Request, error: ApiError) -> ApiError:
    """``error`` as the caller of ``request`` may see it (its consumer view unless the caller is the admin)."""
    if error.consumer_view is None or is_admin(request):
        return error
    return error.consumer_view


class RouteHeaderGuard:
    """Strip the provider text of failed attempts from ``x-modelyard-route`` unless the caller is the admin.

    Args:
        app: the wrapped ASGI application.

    Example:
        >>> app.add_middleware(RouteHeaderGuard)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [self._header(scope, name, value) for name, value in message.get("headers", [])]
            await send(message)

        await self.app(scope, receive, guarded)

    @staticmethod
    def _header(scope: Scope, name: bytes, value: bytes) -> tuple[bytes, bytes]:
        if name.lower() != _ROUTE_HEADER or b" failed (" not in value or is_admin(Request(scope)):
            return name, value
        reason = unquote(value.decode("latin-1"))
        return name, route_header(reason_without_upstream_text(reason)).encode("latin-1")
