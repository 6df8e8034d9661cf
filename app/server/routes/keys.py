"""Admin endpoints for consumer API keys: ``POST /api/keys``, ``GET /api/keys``, ``DELETE /api/keys/{id}``.

The secret of a new key is in the ``POST`` answer and nowhere else: listings show its ``prefix``,
never the secret or its hash.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.server.gateway.state import gateway
from app.server.http.auth import require_admin
from app.server.http.errors import ApiError

__all__ = ["KeyCreate", "router"]

router = APIRouter(prefix="/api/keys", tags=["keys"], dependencies=[Depends(require_admin)])


class KeyCreate(BaseModel):
    """``POST /api/keys``: who the key is for and what it may do.

    Example:
        >>> KeyCreate(name="team-a", allowed_models=["gpt-4o-mini"], rpm=60, budget_usd=5).rpm
        60
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    """The consumer (team, app or person) the key is for."""
    allowed_models: list[str] = Field(default_factory=list, max_length=1000)
    """Catalog models the key may call (``auto`` then routes among them); empty = every model."""
    rpm: int | None = Field(None, gt=0, le=1_000_000_000)
    """Requests per rolling minute; ``None`` = unlimited."""
    tpm: int | None = Field(None, gt=0, le=1_000_000_000_000)
    """Tokens (input + output) per rolling minute; ``None`` = unlimited."""
    budget_usd: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    """Total USD the key may spend; ``None`` = no budget."""

    @field_validator("allowed_models")
    @classmethod
    def _model_names(cls, names: list[str]) -> list[str]:
        names = [name.strip() for name in names]
        if any(not name for name in names):
            raise ValueError("model names must not be empty")
        if "auto" in names:
            raise ValueError("list catalog models, not 'auto': a key may always use auto, which routes among them")
        return names


@router.post("", status_code=201)
def create_key(body: KeyCreate, request: Request) -> dict[str, Any]:
    """Issue a key. The answer's ``secret`` is shown this once; store it now."""
    keys = gateway(request).keys
    created = keys.create(body.name, body.allowed_models, body.rpm, body.tpm, body.budget_usd)
    return {**keys.view(created.key), "secret": created.secret}


@router.get("")
def list_keys(request: Request) -> dict[str, Any]:
    """Every key (revoked ones too) with its limits, spend and this minute's use; no secrets."""
    return {"object": "list", "data": gateway(request).keys.views()}


@router.delete("/{key_id}")
def revoke_key(key_id: str, request: Request) -> dict[str, Any]:
    """Revoke a key at once; its next request gets 401. Revoking twice is harmless."""
    keys = gateway(request).keys
    key = keys.revoke(key_id)
    if key is None:
        raise ApiError(404, f"unknown API key id '{key_id}'", param="key_id", code="not_found")
    return keys.view(key)
