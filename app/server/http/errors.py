"""HTTP errors in OpenAI's shape, and the one place Modelyard errors get a status code.

Every error response of the gateway has the body OpenAI clients understand::

    {"error": {"message": "...", "type": "...", "param": "...", "code": "..."}}

:func:`install_error_handlers` maps :mod:`core.errors` to statuses (unknown model 404,
everything failed 502, bad parameter 400, invalid spec 422, moderation 400) and turns FastAPI's
validation errors into 400 (malformed JSON) or 422 (missing field, wrong type) naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.server.http.upstream_text import error_class
from chains.prompt_library import PromptInputError
from core.errors import (
    CatalogError,
    ModelyardError,
    ModerationBlocked,
    ParameterError,
    ProviderError,
    RegistryError,
    RequestError,
    RoutingError,
    SharedStateUnavailable,
)

__all__ = ["ApiError", "error_body", "error_response", "install_error_handlers", "status_of", "validation_error"]

log = logging.getLogger(__name__)

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    502: "upstream_error",
    500: "server_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error the gateway answers with ``status`` and OpenAI's error body.

    Example:
        >>> ApiError(404, "unknown model 'x'", code="model_not_found").status
        404
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        consumer_view: ApiError | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.headers, self.extra = headers or {}, extra or {}
        self.consumer_view = consumer_view
        """The error as a consumer key sees it, when this one carries upstream text kept for the admin."""


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None, **extra: Any
) -> dict[str, Any]:
    """OpenAI's error object for ``status``."""
    return {
        "error": {
            "message": message,
            "type": _TYPES.get(status, "invalid_request_error"),
            "param": param,
            "code": code,
            **extra,
        }
    }


def error_response(error: ApiError) -> JSONResponse:
    """The JSON response for an :class:`ApiError`."""
    body = error_body(error.status, error.message, error.param, error.code, **error.extra)
    return JSONResponse(body, status_code=error.status, headers=error.headers)


_STATUS: tuple[tuple[type[BaseException], int, str | None], ...] = (
    # the first matching class wins, so subclasses come before their bases; code None = the class name
    (PromptInputError, 422, "invalid_variables"),
    (ParameterError, 400, "invalid_parameter"),
    (RequestError, 400, "invalid_request"),
    (CatalogError, 422, "invalid_spec"),
    (RegistryError, 404, "not_found"),
    (ModerationBlocked, 400, "content_blocked"),
    (ProviderError, 502, None),
    (SharedStateUnavailable, 503, "shared_state_unavailable"),
    (ModelyardError, 400, None),
)
"""The one table from Modelyard's error classes to HTTP statuses and error codes."""


def status_of(exc: BaseException) -> ApiError:
    """Translate an exception raised while serving into an :class:`ApiError`.

    Example:
        >>> status_of(ParameterError("temperature=5 is outside ...", param="temperature")).param
        'temperature'
    """
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RoutingError):
        if exc.attempts:
            attempts = [{"model": a.model, "deployment": a.deployment, "error": a.error} for a in exc.attempts]
            consumer = _attempts_failed_for_consumers(exc)
            return ApiError(
                502, str(exc), code="all_attempts_failed", extra={"attempts": attempts}, consumer_view=consumer
            )
        return ApiError(400, str(exc), code="no_route")
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            param = getattr(exc, "param", None) or (getattr(exc, "field", None) or None)
            extra = {"categories": exc.categories} if isinstance(exc, ModerationBlocked) else None
            return ApiError(status, str(exc), param=param, code=code or type(exc).__name__, extra=extra)
    log.exception("unexpected error while serving", exc_info=exc)
    return ApiError(500, f"internal error ({type(exc).__name__})", code="internal_error")


def _attempts_failed_for_consumers(exc: RoutingError) -> ApiError:
    """The 502 of ``exc`` with each attempt's model, deployment and error class only (its message, which
    quotes the route reason and so the providers' words, is rebuilt from the attempts)."""
    attempts = [{"model": a.model, "deployment": a.deployment, "error": error_class(a.error)} for a in exc.attempts]
    listed = "; ".join(f"{a['model']}/{a['deployment'] or '-'}: {a['error']}" for a in attempts)
    message = f"every option failed (attempts: {listed}); the providers' error text is kept for the admin"
    return ApiError(502, message, code="all_attempts_failed", extra={"attempts": attempts})


def validation_error(exc: RequestValidationError) -> ApiError:
    """400 for a body that is not JSON, 422 naming the field otherwise."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    if first.get("type") == "json_invalid":
        detail = first.get("ctx", {}).get("error", "cannot be parsed")
        return ApiError(
            400,
            f"the request body is not valid JSON ({detail}); send a JSON object with Content-Type: application/json",
            code="invalid_json",
        )
    field = ".".join(loc) or "body"
    message = f"{field}: {first.get('msg', 'invalid value')}"
    if first.get("type") == "missing":
        message = f"{field}: field required"
    if "input" in first and first.get("type") != "missing":
        message += f" (got {_short(first['input'])})"
    return ApiError(422, message, param=field, code=first.get("type", "invalid_value"))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def install_error_handlers(app: FastAPI, shown: Callable[[Request, ApiError], ApiError]) -> None:
    """Register the handlers that give every error OpenAI's shape; ``shown`` picks what the caller
    may see of it (:func:`app.server.http.disclosure.shown_to`)."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(shown(request, exc))

    @app.exception_handler(ModelyardError)
    async def _modelyard(request: Request, exc: ModelyardError) -> JSONResponse:
        return error_response(shown(request, status_of(exc)))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(ApiError(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})))
