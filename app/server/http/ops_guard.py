"""An ASGI middleware that puts ``/metrics`` and the API docs behind a key (``MODELYARD_PROTECT_OPS``).

Off by default: a Prometheus scraper on the same machine reads ``/metrics`` without a key, and the
docs describe nothing secret. Behind a proxy or on a shared network, the metrics tell who calls which
model how often, and the schema maps the admin surface: set ``MODELYARD_PROTECT_OPS=1`` and give the
scraper a consumer key. ``/healthz`` always stays open (load balancers and orchestrators probe it).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.server.http.auth import require_ops_key
from app.server.http.errors import ApiError, error_response

__all__ = ["PROTECTED_PATHS", "OpsGuard"]

PROTECTED_PATHS = frozenset({"/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
"""The operations paths that need a key while the guard is installed."""


class OpsGuard:
    """Answer 401 (the gateway's error shape) on :data:`PROTECTED_PATHS` without a consumer or admin key.

    Args:
        app: the wrapped ASGI application.

    Example:
        >>> app.add_middleware(OpsGuard)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in PROTECTED_PATHS:
            try:
                await require_ops_key(Request(scope))
            except ApiError as error:
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
