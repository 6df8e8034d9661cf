"""Routes whose every error — the key check's, validation's and the handler's — has another API's shape.

An API dialect that answers errors in its own JSON (OperateGPT's ``{"success": false, "msg"}``)
builds its router with ``route_class=shaped_error_route(render)``: each error is first mapped to
the gateway's :class:`~app.server.http.errors.ApiError` (the same status table as every other
route, and what the caller may see of it: :func:`~app.server.http.disclosure.shown_to`), then
``render`` turns it into the dialect's body; the status and headers are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.server.http.disclosure import shown_to
from app.server.http.errors import ApiError, status_of, validation_error

__all__ = ["ErrorRenderer", "shaped_error_route"]

ErrorRenderer = Callable[[ApiError], dict[str, Any]]
"""Turns the gateway's error into the dialect's JSON body."""


def shaped_error_route(render: ErrorRenderer) -> type[APIRoute]:
    """An ``APIRoute`` class answering every error with ``render(error)``.

    Example:
        >>> route_class = shaped_error_route(lambda error: {"ok": False, "why": error.message})
        >>> issubclass(route_class, APIRoute)
        True
    """

    class ShapedErrorRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def answer_in_shape(request: Request) -> Response:
                try:
                    return await handler(request)
                except RequestValidationError as exc:
                    error = validation_error(exc)
                except StarletteHTTPException as exc:
                    error = ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))
                except Exception as exc:  # the same mapping as the app's exception handlers
                    error = shown_to(request, status_of(exc))  # upstream text stays with the admin
                return JSONResponse(render(error), status_code=error.status, headers=error.headers)

            return answer_in_shape

    return ShapedErrorRoute
