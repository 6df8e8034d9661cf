"""The service portal: publish prompt APIs as services, subscribe, approve, and call them.

Identities (:mod:`app.server.http.identity`): a general consumer key acts as its name (its team);
the master key as the admin. Endpoints (all JSON):

* ``GET /api/services`` — every service (published ones and the ``config/prompts`` files, owned by
  ``operator``) at its latest version; ``GET /api/services/{name}?version=`` one, with its versions;
* ``POST /api/services`` — publish: ``name``, the prompt fields of ``config/prompts/*.yaml``
  (``description``, ``model``, ``task``, ``params``, ``messages``, ``variables``), ``approval``
  (``manual`` | ``auto``), ``limits`` (``rpm``, ``tpm``, ``budget_usd`` each subscription key gets at
  most); the caller owns it (the admin may name an ``owner``) → 201 at version 1;
* ``PUT /api/services/{name}`` — the owner (or admin) changes it: new content adds a version
  (``changed``, ``diff``), settings change in place; ``GET /api/services/{name}/diff?from_version=&to_version=``;
* ``POST /api/services/{name}/subscriptions`` — subscribe (optionally asking for tighter ``rpm``,
  ``tpm``, ``budget_usd``) → 201 with ``status`` (``pending``, or ``approved`` under ``auto``) and the
  subscription key's ``secret``, shown this once;
* ``POST /api/services/{name}/subscriptions/{id}/approve`` | ``/reject`` (``{"reason"}``) — the owner
  or admin; ``DELETE /api/services/{name}/subscriptions/{id}`` — revoke (subscriber, owner, admin);
  ``GET /api/services/{name}/subscriptions`` and ``GET /api/subscriptions`` — what the caller may see;
* ``POST /api/services/{name}`` — call with the subscription key: ``{"variables", "stream", "user",
  "version"}`` (no ``version`` = the latest), answered exactly as ``POST /api/prompts/{name}``
  (JSON, or SSE with ``"stream": true``), plus ``x-modelyard-service-version``. Logged as endpoint
  ``service`` / ``service_stream`` under the subscription key, so ``/api/usage`` sums it per service
  and subscriber.

Refusals: not subscribed 403 (how to subscribe), pending approval 403, rejected 403, revoked key 401,
another service's key 403, over the subscription's limits 429 / 402; unknown service or version 404;
a name in use or a duplicate subscription 409; not the owner 403; a bad field 422 naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from app.server.gateway.keys import ApiKey
from app.server.gateway.services import Identity, ServiceRefusal, SubscriptionLimits
from app.server.gateway.state import gateway
from app.server.http.auth import admitted_key
from app.server.http.errors import ApiError
from app.server.http.identity import PortalIdentity
from app.server.routes import prompts
from chains.prompt_library import PromptSpec
from store.services_db import Approval

__all__ = ["Decision", "ServiceCall", "ServiceDefinition", "SubscribeRequest", "router"]

router = APIRouter(prefix="/api", tags=["services"])

VERSION_HEADER = "x-modelyard-service-version"

_STATUS = {
    "not_found": 404,
    "exists": 409,
    "already_subscribed": 409,
    "wrong_status": 409,
    "not_owner": 403,
    "not_subscribed": 403,
    "pending_approval": 403,
    "rejected": 403,
    "revoked": 401,
}
"""A :class:`ServiceRefusal` code → its HTTP status."""


class ServiceDefinition(PromptSpec):
    """``POST /api/services`` and ``PUT /api/services/{name}``: a prompt spec plus the service's settings.

    Example:
        >>> ServiceDefinition(name="say", messages=[{"role": "user", "content": "Say {word}"}]).approval
        'manual'
    """

    approval: Approval = "manual"
    """``manual``: the owner approves each subscription; ``auto``: subscriptions are approved at once."""
    limits: SubscriptionLimits = SubscriptionLimits()
    """The most a subscription key gets (``rpm``, ``tpm``, ``budget_usd``); unset = unlimited."""
    owner: str | None = Field(None, min_length=1, max_length=200)
    """The owning team; only the admin may set it (default: the caller)."""

    def content(self) -> PromptSpec:
        """The versioned part: the prompt spec without name and settings."""
        return PromptSpec.model_validate(self.model_dump(include=set(PromptSpec.model_fields) - {"name"}))


class SubscribeRequest(SubscriptionLimits):
    """``POST /api/services/{name}/subscriptions``: limits asked for (capped by the service's)."""


class Decision(BaseModel):
    """``POST .../approve`` or ``.../reject``."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=2000)
    """Shown to the subscriber (and in their refusals after a rejection)."""


class ServiceCall(prompts.PromptRunRequest):
    """``POST /api/services/{name}``: a prompt call, optionally pinned to a version."""

    version: int | None = Field(None, ge=1)
    """The version to run; ``None`` = the latest."""


@contextmanager
def _refusals() -> Iterator[None]:
    """Turn a :class:`ServiceRefusal` into the :class:`ApiError` with its status."""
    try:
        yield
    except ServiceRefusal as exc:
        raise ApiError(_STATUS[exc.code], exc.message, param=exc.param, code=exc.code) from None


@router.get("/services")
def list_services(request: Request, _: PortalIdentity) -> dict[str, Any]:
    """Every service at its latest version: owner, approval mode, model, variables."""
    return {"object": "list", "data": gateway(request).services.services()}


@router.post("/services", status_code=201)
def publish(body: ServiceDefinition, request: Request, who: PortalIdentity) -> dict[str, Any]:
    """Publish a service owned by the caller (the admin may name the ``owner``)."""
    if body.name is None:
        raise ApiError(422, "name: field required (the service's API name)", param="name", code="missing")
    owner = _owner(body, who)
    with _refusals():
        return gateway(request).services.publish(body.name, body.content(), body.approval, body.limits, owner)


@router.get("/services/{name}")
def describe(name: str, request: Request, _: PortalIdentity, version: int | None = Query(None, ge=1)) -> dict[str, Any]:
    """One service at ``version`` (default the latest), with the list of its versions."""
    with _refusals():
        return gateway(request).services.describe(name, version)


@router.put("/services/{name}")
def revise(name: str, body: ServiceDefinition, request: Request, who: PortalIdentity) -> dict[str, Any]:
    """Change a service (owner or admin): new content becomes a new version; settings change in place."""
    if body.name not in (None, name):
        raise ApiError(422, f"name: '{body.name}' differs from the path's '{name}'", param="name", code="name_mismatch")
    if body.owner is not None:
        raise ApiError(422, "owner: a service's owner does not change", param="owner", code="owner_fixed")
    with _refusals():
        return gateway(request).services.revise(name, body.content(), body.approval, body.limits, who)


@router.get("/services/{name}/diff")
def diff(
    name: str,
    request: Request,
    _: PortalIdentity,
    from_version: int | None = Query(None, ge=1, description="default: the version before to_version"),
    to_version: int | None = Query(None, ge=1, description="default: the latest"),
) -> dict[str, Any]:
    """A unified diff of two versions' canonical YAML."""
    catalog = gateway(request).services
    with _refusals():
        new = to_version or catalog.describe(name)["latest_version"]
        return catalog.diff(name, from_version or max(1, new - 1), new)


@router.post("/services/{name}/subscriptions", status_code=201)
def subscribe(name: str, request: Request, who: PortalIdentity, body: SubscribeRequest | None = None) -> dict[str, Any]:
    """Subscribe (the body is optional): the subscription and its key's ``secret`` (shown this once; the key
    works once the subscription is approved)."""
    with _refusals():
        view, secret = gateway(request).services.subscribe(name, who, body or SubscribeRequest())
    return {**view, "secret": secret}


@router.get("/services/{name}/subscriptions")
def service_subscriptions(name: str, request: Request, who: PortalIdentity) -> dict[str, Any]:
    """The service's subscriptions (all of them for its owner and the admin, else the caller's own)."""
    with _refusals():
        gateway(request).services.describe(name)  # 404 for an unknown service
        return {"object": "list", "data": gateway(request).services.subscriptions(who, name)}


@router.get("/subscriptions")
def my_subscriptions(request: Request, who: PortalIdentity) -> dict[str, Any]:
    """The caller's subscriptions and those of the services the caller owns (every one for the admin)."""
    return {"object": "list", "data": gateway(request).services.subscriptions(who)}


@router.post("/services/{name}/subscriptions/{subscription_id}/approve")
def approve(name: str, subscription_id: str, request: Request, who: PortalIdentity, body: Decision | None = None):
    """Approve a pending (or rejected) subscription: its key can call the service from now on."""
    return _decide(request, name, subscription_id, who, True, body)


@router.post("/services/{name}/subscriptions/{subscription_id}/reject")
def reject(name: str, subscription_id: str, request: Request, who: PortalIdentity, body: Decision | None = None):
    """Reject a pending subscription; its key is refused with the reason."""
    return _decide(request, name, subscription_id, who, False, body)


def _decide(
    request: Request, name: str, subscription_id: str, who: Identity, approve: bool, body: Decision | None
) -> dict[str, Any]:
    reason = body.reason if body is not None else None
    with _refusals():
        return gateway(request).services.decide(name, subscription_id, who, approve, reason)


@router.delete("/services/{name}/subscriptions/{subscription_id}")
def revoke(name: str, subscription_id: str, request: Request, who: PortalIdentity) -> dict[str, Any]:
    """End a subscription and revoke its key (the subscriber, the owner or the admin)."""
    with _refusals():
        return gateway(request).services.revoke(name, subscription_id, who)


async def _subscription_key(name: str, request: Request) -> ApiKey | None:
    """The call's key: a subscription key of this service is accepted here (and nowhere else)."""
    return await admitted_key(request, service=name)


SubscriptionKey = Annotated[ApiKey | None, Depends(_subscription_key)]


@router.post("/services/{name}")
async def call_service(name: str, body: ServiceCall, request: Request, key: SubscriptionKey) -> Response:
    """Run the service (the latest version, or ``version``) with a subscription key; JSON or SSE."""
    catalog = gateway(request).services
    with _refusals():
        catalog.admit(name, key)
        prompt, version = catalog.prompt(name, body.version)
    call = prompts.PromptRunRequest(variables=body.variables, stream=body.stream, user=body.user)
    answer = await prompts.answer(request, prompt, call, key, endpoint="service")
    answer.headers[VERSION_HEADER] = str(version)
    return answer


def _owner(body: ServiceDefinition, who: Identity) -> Identity:
    if body.owner is None or body.owner == who.name:
        return who
    if not who.admin:
        raise ApiError(
            403, f"owner: you publish as {who.name}; only the admin may publish for another owner", param="owner"
        )
    return Identity(body.owner)
