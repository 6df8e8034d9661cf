"""Refusals raised while a dialect translates its request, accounted like every other call.

``/v1/messages`` and ``/v1/responses`` turn their request into a chat completion before
:func:`app.server.routes.completions.chat` opens the call. A field refused in that translation (or an
unknown ``previous_response_id``) would otherwise reach neither the request log nor the metrics:
:func:`translating` opens and settles one call for it, failed with the refusal's status and error
class, under the dialect's endpoint label (``messages``, ``responses``; ``*_stream`` when streamed,
as :func:`~app.server.routes.completions.chat` labels the calls it serves).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from app.server.gateway.keys import ApiKey
from app.server.gateway.state import gateway
from app.server.http.errors import ApiError
from app.server.http.timing import arrived
from app.server.routes.completions import fail
from core.errors import RequestError

__all__ = ["translating"]


@contextmanager
def translating(request: Request, key: ApiKey | None, endpoint: str, model: str, stream: bool) -> Iterator[None]:
    """Settle one failed call for a refusal (:class:`ApiError` or :class:`RequestError`) raised inside, and
    raise it as the :class:`ApiError` to answer; anything else passes through untouched.

    Example:
        >>> with translating(request, key, "messages", body.model, body.stream):  # doctest: +SKIP
        ...     chat_body = anthropic.to_chat_request(body)
    """
    try:
        yield
    except (ApiError, RequestError) as exc:
        label = f"{endpoint}_stream" if stream else endpoint
        call = gateway(request).open_call(label, model, key, started=arrived(request))
        raise fail(call, exc) from None
