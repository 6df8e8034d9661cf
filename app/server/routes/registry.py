"""The registry API: OperateGPT's model-manager endpoints and a fuller ``/api/models``.

OperateGPT shapes (answers ``{"success", "msg"}``; ``workers`` gives ``data`` as a JSON list,
where OperateGPT gave a stringified one):

* ``POST /api/server/register`` — ``model_name``, ``req_url_template``, ``body``,
  ``response_extract``, ``owner`` (optional ``header``) → an ``http_template`` model. As in
  OperateGPT, each URL registered under one name is one worker (a deployment the router balances
  across): the first is ``default``, a new URL adds ``worker-2``, ``worker-3``…, the same URL
  again updates its worker (Modelyard's optional ``deployment`` names it instead);
* ``GET|POST /api/server/workers`` — one row per model deployment;
* ``POST /api/server/offline`` — ``model_name`` and optionally ``deployment`` (or OperateGPT's
  ``req_url_template``, matched against the deployments' URLs).

``/api/models``: ``GET`` lists full specs with availability, ``POST`` registers a full
:class:`~models.spec.ModelSpec` (invalid → 422 naming the field), ``GET``/``DELETE``
``/api/models/{name}`` read it or take it offline. All need the admin key when one is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from app.server.gateway.state import Gateway, gateway
from app.server.http.auth import require_admin
from app.server.http.errors import ApiError
from models.registry import ModelEntry

__all__ = ["OfflineRequest", "RegisterRequest", "router"]

router = APIRouter(prefix="/api", tags=["registry"], dependencies=[Depends(require_admin)])


class RegisterRequest(BaseModel):
    """OperateGPT's register body."""

    model_config = ConfigDict(extra="ignore")

    model_name: str = Field(min_length=1)
    req_url_template: str = Field(min_length=1)
    body: dict[str, Any]
    response_extract: str = Field(min_length=1)
    owner: str = ""
    header: dict[str, str] | None = None
    deployment: str | None = Field(None, min_length=1)
    """Modelyard: the worker's deployment name (default: by URL, see the module docstring)."""


class OfflineRequest(BaseModel):
    """OperateGPT's offline body, plus Modelyard's ``deployment``."""

    model_config = ConfigDict(extra="ignore")

    model_name: str = Field(min_length=1)
    deployment: str | None = None
    req_url_template: str | None = None


def _check_key_envs(gw: Gateway, spec: dict[str, Any]) -> None:
    """422 when a deployment names a key variable the operator did not allow (see
    ``GatewaySettings.allowed_key_envs``): its value would be sent to the registered URL."""
    allowed = set(gw.settings.allowed_key_envs)
    allowed |= {
        d.api_key_env
        for e in gw.registry.entries()
        if e.origin == "catalog"
        for d in e.spec.deployments
        if d.api_key_env
    }
    for index, deployment in enumerate(spec.get("deployments") or []):
        name = deployment.get("api_key_env") if isinstance(deployment, dict) else None
        if name and name not in allowed:
            raise ApiError(
                422,
                f"deployments[{index}].api_key_env: '{name}' is not a key variable this gateway may send; "
                f"allowed: {', '.join(sorted(allowed)) or 'none'} (the catalog's, plus MODELYARD_KEY_ENVS)",
                param=f"deployments.{index}.api_key_env",
                code="key_env_not_allowed",
            )


def _entry_json(entry: ModelEntry) -> dict[str, Any]:
    return {
        "spec": entry.spec.model_dump(mode="json"),
        "origin": entry.origin,
        "available": entry.availability.available,
        "reason": entry.availability.reason,
        "offline_deployments": sorted(entry.offline_deployments),
        "fingerprint": entry.spec.fingerprint(),
    }


@router.post("/server/register")
def register_worker(body: RegisterRequest, request: Request) -> dict[str, Any]:
    """Register (or extend) an ``http_template`` model the OperateGPT way."""
    template = {
        "req_url_template": body.req_url_template,
        "body": body.body,
        "response_extract": body.response_extract,
        "headers": body.header or {},
    }
    gw = gateway(request)
    deployment = {"name": _worker_name(gw, body), "base_url": body.req_url_template}
    spec = {
        "name": body.model_name,
        "provider": "http_template",
        "http_template": template,
        "deployments": [deployment],
    }
    _check_key_envs(gw, spec)
    result = gw.registry.register(spec, owner=body.owner)
    verb = "updated" if result.previous_fingerprint else "registered"
    return {
        "success": True,
        "msg": f"register LLM {body.model_name} succeed! ({verb})",
        "fingerprint": result.fingerprint,
        "breaking": result.breaking,
    }


def _worker_name(gw: Gateway, body: RegisterRequest) -> str:
    """The deployment a registration fills: the one named, the one with this URL, or a new one."""
    if body.deployment:
        return body.deployment
    known = {e.spec.name: e.spec for e in gw.registry.entries()}.get(body.model_name)
    if known is None or not known.deployments:
        return "default"
    for deployment in known.deployments:
        if deployment.base_url == body.req_url_template:
            return deployment.name
    names = {d.name for d in known.deployments}
    number = len(names) + 1
    while f"worker-{number}" in names:
        number += 1
    return f"worker-{number}"


@router.get("/server/workers")
def list_workers(request: Request) -> dict[str, Any]:
    """Every online deployment as a worker row."""
    workers = []
    for entry in gateway(request).registry.entries():
        for deployment in entry.spec.deployments:
            if deployment.name in entry.offline_deployments:
                continue
            workers.append(
                {
                    "model_name": entry.spec.name,
                    "deployment": deployment.name,
                    "req_url_template": deployment.base_url,
                    "provider": entry.spec.provider,
                    "owner": entry.spec.owner,
                    "available": entry.availability.available,
                    "reason": entry.availability.reason,
                }
            )
    return {"success": True, "data": workers}


# OperateGPT's own client asks for the workers with POST
router.add_api_route("/server/workers", list_workers, methods=["POST"], operation_id="list_workers_post")


@router.post("/server/offline")
def offline_worker(body: OfflineRequest, request: Request) -> dict[str, Any]:
    """Take one deployment (by name or URL) or the whole model offline."""
    registry = gateway(request).registry
    deployment = body.deployment
    if deployment is None and body.req_url_template:
        matches = [
            d.name for d in registry.get(body.model_name).spec.deployments if d.base_url == body.req_url_template
        ]
        deployment = matches[0] if matches else body.req_url_template  # unknown → RegistryError names them
    registry.offline(body.model_name, deployment)
    what = f"{body.model_name}/{deployment}" if deployment else body.model_name
    return {"success": True, "msg": f"remove llm worker({what}) succeed!"}


@router.get("/models")
def list_specs(request: Request) -> list[dict[str, Any]]:
    """Every catalog and registered model with its full spec and availability."""
    return [_entry_json(e) for e in gateway(request).registry.entries()]


@router.post("/models", status_code=201)
def register_spec(spec: dict[str, Any], request: Request) -> dict[str, Any]:
    """Register a full spec; a re-registration merges deployments and reports the diff."""
    owner = str(spec.get("owner", ""))
    gw = gateway(request)
    _check_key_envs(gw, spec)
    result = gw.registry.register(spec, owner=owner)
    return {
        "name": result.name,
        "fingerprint": result.fingerprint,
        "previous_fingerprint": result.previous_fingerprint,
        "diff": result.diff,
        "breaking": result.breaking,
    }


@router.get("/models/{name:path}")
def get_spec(name: str, request: Request) -> dict[str, Any]:
    """One model's spec and availability (404 when unknown)."""
    return _entry_json(gateway(request).registry.get(name))


@router.delete("/models/{name:path}")
def delete_spec(name: str, request: Request) -> dict[str, Any]:
    """Take the whole model offline (persisted; registering it again brings it back)."""
    gateway(request).registry.offline(name)
    return {"name": name, "offline": True}
