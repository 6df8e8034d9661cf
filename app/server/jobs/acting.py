"""Requests to the gateway's own app, in this process, on behalf of the key that owns the work.

A batch line is served by the very route a live client calls — key admission (rpm, budget), model
check, cache, routing, settlement, request log, error shapes — because the job posts it
to the app through ``httpx.ASGITransport``: there is one request lifecycle, not a second one for
background work.

**How the job is the owner without the owner's secret.** Only the SHA-256 of a key's secret is
stored, so a job cannot present it. Instead :class:`ActingAs`, an ASGI wrapper that exists only on
this in-process transport, moves an internal header into the request's ASGI *scope*
(:data:`~app.server.http.auth.ACTING_KEY_SCOPE`), and ``admitted_key`` takes the key from there by
id — then applies every check it applies to a presented key (revoked → 401, subscription key → 403,
limits → 429 / 402). The scope is not part of HTTP: a network client cannot set it, whatever headers
it sends, because its requests reach the app through uvicorn, never through this wrapper. There is
no signing secret to keep or rotate, and nothing that could be replayed from outside the process.
Batches owned by the master key (or made on an open server) have the owner ``""`` and run as it.
"""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from app.server.http.auth import ACTING_KEY_SCOPE

__all__ = ["ActingAs", "ActingClient"]

_HEADER = b"x-modelyard-internal-acting-key"


class ActingAs:
    """ASGI wrapper: the internal acting-key header becomes the scope entry (and leaves the headers)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = [(name, value) for name, value in scope["headers"] if name != _HEADER]
            acting = [value for name, value in scope["headers"] if name == _HEADER]
            scope = {**scope, "headers": headers}
            if acting:
                scope[ACTING_KEY_SCOPE] = acting[0].decode()
        await self.app(scope, receive, send)


class ActingClient:
    """Posts JSON to ``app`` in this process as a given key (its id; ``""`` = the master key).

    Example:
        >>> client = ActingClient(app)  # doctest: +SKIP
        >>> answer = await client.post("key_ab12cd34", "/v1/chat/completions", {"model": "auto", ...})  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp):
        transport = httpx.ASGITransport(app=ActingAs(app))
        self._client = httpx.AsyncClient(transport=transport, base_url="http://modelyard-jobs", timeout=None)

    async def post(self, owner: str, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self._client.post(path, json=body, headers={_HEADER.decode(): owner})

    async def aclose(self) -> None:
        await self._client.aclose()
