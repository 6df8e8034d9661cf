"""Who acts on the service portal: a FastAPI dependency resolving the caller's :class:`Identity`.

* a general consumer key → its ``name`` (the team the admin issued it for);
* the master key — or, while none is set, a caller on this machine without a key (the admin rule
  of :func:`~app.server.http.auth.require_admin`) → the admin;
* a subscription key → 403: it calls its one service and nothing else.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from app.server.gateway.services import ADMIN, Identity
from app.server.gateway.state import gateway
from app.server.http.auth import presented_key, require_admin
from app.server.http.errors import ApiError

__all__ = ["PortalIdentity", "portal_identity"]


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


async def portal_identity(request: Request) -> Identity:
    """The caller's identity on the portal; 401 without a valid key, 403 for a subscription key."""
    gw = gateway(request)
    token = presented_key(request)
    if token is None:
        if gw.settings.master_key:
            raise _unauthorized(
                "the service portal needs your API key: send 'Authorization: Bearer <key>'; the key's name is who "
                "you are here (keys are issued with POST /api/keys)"
            )
        await require_admin(request)  # no master key: a caller on this machine is the admin
        return Identity(ADMIN, admin=True)
    key = gw.keys.authenticate(token)
    if key is not None:
        if key.service is not None:
            raise ApiError(
                403,
                f"key {key.id} is a subscription key of service '{key.service}': it calls only POST "
                f"/api/services/{key.service}; use your team's key on the portal",
                code="subscription_key_scope",
            )
        return Identity(key.stored.name)
    master = gw.settings.master_key
    if master and hmac.compare_digest(token.encode(), master.encode()):
        return Identity(ADMIN, admin=True)
    raise _unauthorized("invalid API key: it is unknown or has been revoked")


PortalIdentity = Annotated[Identity, Depends(portal_identity)]
"""A handler parameter for the portal caller's identity."""
