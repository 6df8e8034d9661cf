"""Who may call what: the admin (master) key and consumer API keys, as FastAPI dependencies.

Three modes, from the settings and the key store:

* **open** — no ``MODELYARD_MASTER_KEY`` and no consumer key ever created: everything is open
  (local development on loopback; ``python -m app.server`` refuses other addresses).
* **keys** — ``/v1/*`` and the LangServe chains need ``Authorization: Bearer <key>`` (or
  ``x-api-key: <key>``, as Anthropic clients send it), a consumer key (limits, budget and model
  list apply) or the master key (no limits).
* **admin** — registry, key and usage administration need the master key; without one it is
  served only to clients on this machine that present no consumer key.

A consumer key is resolved once per request by :func:`require_key`, a FastAPI dependency that
returns it: handlers declare ``key: ConsumerKey`` (FastAPI runs it once per request, however many
declare it). The chat lifecycle's routes declare ``key: ChatKey`` instead — checked, not yet
admitted — because :func:`app.server.routes.completions.chat` admits the request together with its
reservation, in one round-trip to a shared limit store.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Annotated

from fastapi import Depends, Request

from app.server.gateway.keys import ApiKey, Denial, seconds
from app.server.gateway.state import Gateway, gateway
from app.server.http.errors import ApiError
from store.request_log import CallRecord

__all__ = [
    "ACTING_KEY_SCOPE",
    "ChatKey",
    "ConsumerKey",
    "KnownKey",
    "admitted_key",
    "authenticated_key",
    "refusal",
    "bearer",
    "check_model_allowed",
    "is_admin",
    "presented_key",
    "require_admin",
    "require_chain_key",
    "require_key",
    "require_known_key",
    "require_ops_key",
    "usage_scope",
]

_REFUSAL_STATUS = {"rate_limit_exceeded": 429, "budget_exceeded": 402}

ACTING_KEY_SCOPE = "modelyard.acting_key"
"""ASGI scope entry naming the key (by id; ``""`` = the master key) a request from this process acts
for — the batch jobs (``app/server/jobs/acting.py``). Only in-process callers can set the scope; the
key is then checked like a presented one (revoked 401, subscription scope 403, limits 429 / 402)."""


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if any."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def presented_key(request: Request) -> str | None:
    """The key a client presents: the ``Authorization: Bearer`` token, else an ``x-api-key`` header."""
    return bearer(request) or request.headers.get("x-api-key", "").strip() or None


def _is_master(gw: Gateway, token: str | None) -> bool:
    master = gw.settings.master_key
    if not master or token is None:
        return False
    return hmac.compare_digest(token.encode(), master.encode())


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def refusal(denial: Denial) -> ApiError:
    """The 402 or 429 (with ``Retry-After``) for a key's ``denial``."""
    headers = {} if denial.retry_after is None else {"Retry-After": str(seconds(denial.retry_after))}
    return ApiError(_REFUSAL_STATUS[denial.code], denial.message, code=denial.code, headers=headers)


async def require_key(request: Request) -> ApiKey | None:
    """FastAPI dependency of ``/v1/*``: the consumer key (``None`` for the master key or an open
    server); 401 without a valid key, 403 for a subscription key, 429 over a limit, 402 over budget."""
    return await admitted_key(request)


async def admitted_key(request: Request, service: str | None = None) -> ApiKey | None:
    """The request's consumer key, admitted against its limits (``None`` for the master key or an open
    server). A subscription key (``key.service``) is accepted only where ``service`` is its service:
    403 elsewhere. 401 without a valid key, 429 over a limit, 402 over budget."""
    key = authenticated_key(request, service)
    if key is None:
        return None
    gw = gateway(request)
    denial = await gw.keys.aadmit(key)
    if denial is not None:
        error = refusal(denial)
        _account_refusal(gw, request, key.id, error)
        raise error
    return key


def authenticated_key(request: Request, service: str | None = None) -> ApiKey | None:
    """The request's consumer key, *not* counted against its limits: what :func:`admitted_key` checks
    before admission (401, the subscription scope's 403). For calls that cost no model time — the
    Batch API's files and batch objects — so polling a batch neither spends the key's requests per
    minute nor stops working once its budget is spent."""
    gw = gateway(request)
    if not gw.settings.master_key and not gw.keys.configured:
        return None
    acting = request.scope.get(ACTING_KEY_SCOPE)
    if acting is not None:
        if not acting:
            return None
        key = gw.keys.get(acting)
        if key is None or not key.stored.active:
            raise _unauthorized(f"the key {acting} that owns this work has been revoked")
    else:
        token = presented_key(request)
        if token is None:
            raise _unauthorized(
                "no API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>' (keys are issued with "
                "POST /api/keys)"
            )
        key = gw.keys.authenticate(token)
        if key is None:
            if _is_master(gw, token):
                return None
            raise _unauthorized("invalid API key: it is unknown or has been revoked")
    if key.service is not None and key.service != service:
        raise ApiError(
            403,
            f"key {key.id} is a subscription key of service '{key.service}': it calls only "
            f"POST /api/services/{key.service}",
            code="subscription_key_scope",
        )
    return key


async def require_known_key(request: Request) -> ApiKey | None:
    """FastAPI dependency of the Batch API's management routes: :func:`authenticated_key` (no limits)."""
    return authenticated_key(request)


def _account_refusal(gw: Gateway, request: Request, key_id: str, error: ApiError) -> None:
    """Count a 402/429 in the metrics and the request log, so throttling shows in ``/api/usage``."""
    route = request.scope.get("route")
    endpoint = getattr(route, "path", "") or "-"  # the route's template: a bounded label
    error_class = "BudgetExceeded" if error.status == 402 else "RateLimitExceeded"
    gw.account(CallRecord(endpoint=endpoint, status=error.status, error_class=error_class, key_id=key_id))


async def require_chain_key(request: Request) -> ApiKey | None:
    """FastAPI dependency of the LangServe chains: :func:`require_key`, and 403 for a key limited to
    some models (the chains route among every model)."""
    key = await require_key(request)
    if key is not None and key.allowed_models:
        raise ApiError(
            403,
            f"key {key.id} may only use {', '.join(key.allowed_models)}; /support and /rag route among "
            "every model, so they need a key without allowed_models",
            code="model_not_allowed",
        )
    return key


def check_model_allowed(model: str, key: ApiKey | None) -> None:
    """403 when the consumer ``key`` may not call ``model`` (``auto`` routes among its models)."""
    if key is None or model == "auto" or key.allows(model):
        return
    raise ApiError(
        403,
        f"key {key.id} may not use model '{model}'; allowed: auto (routes among these), "
        f"{', '.join(key.allowed_models)}",
        param="model",
        code="model_not_allowed",
    )


def _from_this_machine(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _admin_refusal(request: Request) -> ApiError | None:
    """Why ``request`` is not the admin's (``None``: it is — the master key, or without one a local caller)."""
    gw = gateway(request)
    token = bearer(request)
    if gw.settings.master_key:
        if _is_master(gw, token):
            return None
        return _unauthorized("this endpoint needs the admin key: send 'Authorization: Bearer <MODELYARD_MASTER_KEY>'")
    if token is not None and gw.keys.authenticate(token) is not None:
        return ApiError(403, "a consumer API key cannot use admin endpoints", code="admin_only")
    host = (request.url.hostname or "").strip("[]").lower()
    if host not in {h.strip("[]").lower() for h in gw.settings.admin_hosts}:
        return ApiError(
            403,
            f"admin endpoints answer only Host {', '.join(gw.settings.admin_hosts)} while MODELYARD_MASTER_KEY is "
            "unset (got another Host: a proxy or a page on another domain); set the master key to administer "
            "through it",
            code="admin_host_refused",
        )
    if not _from_this_machine(request):
        return _unauthorized(
            "admin endpoints are served only to this machine while MODELYARD_MASTER_KEY is unset: "
            "set it and send 'Authorization: Bearer <MODELYARD_MASTER_KEY>'"
        )
    return None


def is_admin(request: Request) -> bool:
    """Whether ``request`` comes from the admin: the master key, or (without one) a local caller
    under an admin host name presenting no consumer key."""
    return _admin_refusal(request) is None


async def require_admin(request: Request) -> None:
    """FastAPI dependency of admin endpoints: the master key, or (without one) a local caller."""
    refusal = _admin_refusal(request)
    if refusal is not None:
        raise refusal


async def require_ops_key(request: Request) -> None:
    """The check of ``/metrics`` and the API docs under ``MODELYARD_PROTECT_OPS``: a consumer key (it is
    not charged, and its limits do not apply) or the admin; 401 otherwise."""
    gw = gateway(request)
    token = presented_key(request)
    if token is not None and gw.keys.authenticate(token) is not None:
        return
    refusal = _admin_refusal(request)
    if refusal is None:
        return
    if gw.settings.master_key:
        raise _unauthorized(
            f"{request.url.path} needs an API key while MODELYARD_PROTECT_OPS is set: send 'Authorization: Bearer "
            "<key>' with a consumer key (POST /api/keys) or MODELYARD_MASTER_KEY"
        )
    raise refusal


async def usage_scope(request: Request) -> str | None:
    """FastAPI dependency of ``/api/usage``: the consumer key's id (it sees only its own rows),
    or ``None`` for the admin (every key)."""
    token = bearer(request)
    if token is None:
        await require_admin(request)
        return None
    gw = gateway(request)
    key = gw.keys.authenticate(token)
    if key is not None:
        return key.id
    if _is_master(gw, token):
        return None
    raise _unauthorized("invalid API key: it is unknown or has been revoked")


ConsumerKey = Annotated[ApiKey | None, Depends(require_key)]
"""A handler parameter for the request's consumer key (``None`` for the master key or an open server)."""

KnownKey = Annotated[ApiKey | None, Depends(require_known_key)]
""":data:`ConsumerKey` without admission: the key is checked, its limits are not spent."""

ChatKey = Annotated[ApiKey | None, Depends(require_known_key)]
"""The key of a route served by the chat lifecycle (:func:`app.server.routes.completions.chat`), which
admits it itself: with the reservation in one round-trip, or before a cache hit is replayed."""
