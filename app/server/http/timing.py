"""When a request arrived (for ``x-modelyard-overhead-ms``).

:class:`ArrivalTime` is a pure ASGI middleware that stamps ``time.perf_counter()`` into the
scope as the request comes in, before routing, body parsing and validation, so the overhead a
response reports covers all of the gateway's own work.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ARRIVED", "ArrivalTime", "arrived"]

ARRIVED = "modelyard.arrived"
"""The scope key holding the arrival ``perf_counter()``."""


class ArrivalTime:
    """Stamp each HTTP request's arrival time into its ASGI scope."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[ARRIVED] = time.perf_counter()
        await self.app(scope, receive, send)


def arrived(request: Any) -> float | None:
    """The request's arrival ``perf_counter()``, if the middleware stamped it."""
    stamp: float | None = request.scope.get(ARRIVED)
    return stamp
