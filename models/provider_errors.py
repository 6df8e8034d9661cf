"""The one place where provider SDK and HTTP errors become Modelyard's ProviderError tree.

Adapters call :func:`translate` on any exception a provider call raises; the router and the
surfaces only ever see :class:`~core.errors.ProviderError` subclasses, carrying provider,
model, deployment, status and (for 429) ``retry_after``.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypedDict

import aiohttp
import httpx
import openai
import orjson

from core.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderRateLimited,
    ProviderRequestError,
    ProviderResponseError,
    ProviderServerError,
    ProviderTimeout,
)
from models.providers import PROVIDERS

__all__ = ["error_for_status", "http_status_error", "translate"]


class _Where(TypedDict):
    """Which call failed: the keyword arguments every ProviderError takes."""

    provider: str
    model: str
    deployment: str


def translate(exc: BaseException, *, provider: str, model: str, deployment: str) -> ProviderError:
    """Map ``exc`` to the matching :class:`ProviderError` subclass (never raises)."""
    ctx = _Where(provider=provider, model=model, deployment=deployment)
    if isinstance(exc, ProviderError):
        if exc.provider:
            return exc
        return type(exc)(exc.reason, status=exc.status, retry_after=exc.retry_after, **ctx)
    if isinstance(exc, (openai.APITimeoutError, httpx.TimeoutException, TimeoutError, asyncio.TimeoutError)):
        return ProviderTimeout("timed out", **ctx)
    if isinstance(exc, openai.APIStatusError):
        return error_for_status(exc.status_code, _message(exc), exc.response.headers, **ctx)
    if isinstance(exc, httpx.HTTPStatusError):
        return error_for_status(exc.response.status_code, exc.response.text[:200], exc.response.headers, **ctx)
    status_response = getattr(exc, "response", None)
    if isinstance(status_response, httpx.Response) and status_response.status_code >= 400:
        return error_for_status(status_response.status_code, str(exc)[:200], status_response.headers, **ctx)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return ProviderTimeout("timed out", **ctx)
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError, ConnectionError, aiohttp.ClientError)):
        # includes a stream cut mid-way (httpx.RemoteProtocolError)
        return ProviderConnectionError(f"connection failed: {type(exc).__name__}", **ctx)
    if isinstance(exc, orjson.JSONDecodeError):
        return ProviderResponseError("the answer is not JSON", **ctx)
    if provider in PROVIDERS and isinstance(exc, PROVIDERS[provider].response_errors):
        return ProviderResponseError(str(exc), **ctx)
    return ProviderError(f"{type(exc).__name__}: {exc}", **ctx)


def error_for_status(
    status: int, message: str, headers: Any, *, provider: str, model: str, deployment: str
) -> ProviderError:
    """The ProviderError for an HTTP status (429 → rate limited with Retry-After, 5xx, 4xx)."""
    ctx = _Where(provider=provider, model=model, deployment=deployment)
    if status == 429:
        return ProviderRateLimited(message or "rate limited", status=status, retry_after=_retry_after(headers), **ctx)
    if status >= 500:
        return ProviderServerError(message or "server error", status=status, **ctx)
    return ProviderRequestError(message or "request rejected", status=status, **ctx)


def http_status_error(
    status: int, raw: bytes, headers: Any, *, provider: str, model: str, deployment: str
) -> ProviderError:
    """The ProviderError for an HTTP error answer whose body is ``raw`` (OpenAI's error JSON or text)."""
    try:
        message = str(orjson.loads(raw).get("error", {}).get("message", ""))[:200]
    except (orjson.JSONDecodeError, AttributeError):
        message = raw[:200].decode(errors="replace")
    return error_for_status(status, message, headers, provider=provider, model=model, deployment=deployment)


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:200]
    return str(exc.message)[:200]
