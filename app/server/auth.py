"""The admin key: ``Authorization: Bearer <MODELYARD_MASTER_KEY>`` on admin endpoints."""

from __future__ import annotations

import hmac

from fastapi import Request

from app.server.errors import ApiError
from app.server.state import gateway

__all__ = ["require_admin"]


def require_admin(request: Request) -> None:
    """FastAPI dependency: 401 unless the master key is unset or presented as a bearer token."""
    expected = gateway(request).settings.master_key
    if not expected:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise ApiError(
            401,
            "this endpoint needs the admin key: send 'Authorization: Bearer <MODELYARD_MASTER_KEY>'",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
