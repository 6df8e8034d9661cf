"""``POST /v1/images/generations``: OpenAI's images API, routed to an image-output model.

The router treats ``image_generation`` requests with the modality policy (only models whose
catalog entry has ``modalities.output: [image]``); the chosen model answers with a standard image
content block, returned here in OpenAI's shape ``{"created", "data": [{"b64_json"} | {"url"}]}``
(plus ``modelyard_route``). ``n`` images are ``n`` routed calls made concurrently.

``response_format`` defaults to ``b64_json`` (as for ``gpt-image-1``: the gateway hosts no files).
When the provider answers with a URL and the caller wants ``b64_json``, the gateway downloads
it; when the provider answers with bytes and the caller wants ``url``, it gets a ``data:`` URL.

A key with a budget or TPM limit holds ``n`` calls' estimate (prompt tokens and ``usd_per_image`` of
the dearest image model the call may reach) from admission until the call settles; over it: 402 / 429.

Errors: unknown or unavailable model 404; a text model named explicitly, or no image model at
all, 400 with what to do; every attempt failed 502.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

from app.server.gateway.keys import ApiKey
from app.server.gateway.state import Gateway, gateway
from app.server.http import reservations
from app.server.http.auth import ConsumerKey, require_key
from app.server.http.errors import ApiError
from app.server.http.headers import OVERHEAD_HEADER, ROUTE_HEADER, route_header
from app.server.http.timing import arrived
from app.server.routes.completions import check_model, fail

__all__ = ["ImageGenerationRequest", "router"]

router = APIRouter(prefix="/v1", tags=["openai"], dependencies=[Depends(require_key)])

_DOWNLOAD_TIMEOUT = 60.0


class ImageGenerationRequest(BaseModel):
    """``POST /v1/images/generations`` (OpenAI's fields; unknown ones are ignored)."""

    model_config = ConfigDict(extra="ignore")

    prompt: str = Field(min_length=1)
    model: str = Field("auto", min_length=1)
    """An image-output catalog model, or ``auto``."""
    n: int = Field(1, ge=1, le=10)
    size: str | None = None
    """Passed to the model as the ``size`` parameter when given (e.g. ``1024x1024``)."""
    response_format: Literal["b64_json", "url"] = "b64_json"
    user: str | None = None


@router.post("/images/generations")
async def images_generations(body: ImageGenerationRequest, request: Request, key: ConsumerKey) -> JSONResponse:
    """Generate ``n`` images for ``prompt`` with an image-output model."""
    gw = gateway(request)
    call = gw.open_call("images", body.model, key, started=arrived(request))
    try:
        check_model(gw, body.model, key)
        _check_generates_images(gw, body.model)
        await reservations.hold(gw, call, key, body.model, body.prompt, 0, output="image", calls=body.n)
        waited = time.perf_counter()
        messages = await asyncio.gather(*(gw.router.ainvoke(_router_input(body, key)) for _ in range(body.n)))
        call.upstream_s += time.perf_counter() - waited
        data = [await _image(message, body.response_format) for message in messages]
    except Exception as exc:
        raise fail(call, exc) from exc
    route = messages[0].response_metadata.get("route", {})
    call.answered(route)
    tokens = sum(int((getattr(m, "usage_metadata", None) or {}).get("input_tokens", 0)) for m in messages)
    cost = sum(float(m.response_metadata.get("cost_usd", 0.0) or 0.0) for m in messages)
    cost += len(data) * _price_per_image(gw, call.record.model)
    call.usage(tokens, 0, cost)
    call.settle()
    payload = {"created": int(time.time()), "data": data, "modelyard_route": route}
    headers = {ROUTE_HEADER: route_header(call.record.route_reason), OVERHEAD_HEADER: f"{call.overhead_ms():.3f}"}
    return JSONResponse(payload, headers=headers)


def _price_per_image(gw: Gateway, name: str) -> float:
    """The catalog's ``resources.usd_per_image`` of model ``name`` (0 when it sets none)."""
    entry = next((e for e in gw.registry.entries() if e.spec.name == name), None)
    return float(entry.spec.resources.get("usd_per_image", 0.0)) if entry is not None else 0.0


def _check_generates_images(gw: Gateway, name: str) -> None:
    """400 when ``name`` is a catalog model that does not output images (the message lists those that do)."""
    if name == "auto":
        return
    entries = [e for e in gw.registry.entries() if e.availability.available]
    if any(e.spec.name == name and "image" in e.spec.modalities.output for e in entries):
        return
    painters = [e.spec.name for e in entries if "image" in e.spec.modalities.output]
    listed = ", ".join(painters) or "none (add one to config/models.yaml with modalities: {output: [image]})"
    raise ApiError(
        400,
        f"model '{name}' does not generate images; image models: {listed}",
        param="model",
        code="model_not_image_capable",
    )


def _router_input(body: ImageGenerationRequest, key: ApiKey | None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messages": [{"role": "user", "content": body.prompt}],
        "model": body.model,
        "image_generation": True,
        "params": {"size": body.size} if body.size else {},
    }
    if body.user is not None:
        value["user"] = body.user
    if key is not None and key.allowed_models:
        value["allowed_models"] = key.allowed_models
    return value


async def _image(message: BaseMessage, response_format: str) -> dict[str, str]:
    """The first image block of ``message`` as ``{"b64_json": ...}`` or ``{"url": ...}``."""
    blocks = message.content if isinstance(message.content, list) else []
    block = next((b for b in blocks if isinstance(b, dict) and b.get("type") in ("image", "image_url")), None)
    if block is None:
        raise ApiError(502, "the image model answered without an image", code="no_image")
    encoded = block.get("base64") or block.get("data")
    url = block.get("url") or (block.get("image_url") or {}).get("url")
    mime = block.get("mime_type") or "image/png"
    if response_format == "url":
        return {"url": url or f"data:{mime};base64,{encoded}"}
    if encoded:
        return {"b64_json": encoded}
    if not url:
        raise ApiError(502, "the image model answered without an image", code="no_image")
    return {"b64_json": await _download(url)}


async def _download(url: str) -> str:
    if url.startswith("data:"):
        return url.partition(",")[2]
    try:
        async with httpx.AsyncClient(timeout=_DOWNLOAD_TIMEOUT, follow_redirects=True) as client:
            response = await client.get(url)
            response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ApiError(
            502,
            f"the image could not be downloaded from the provider ({type(exc).__name__})",
            code="image_download_failed",
        ) from exc
    return base64.b64encode(response.content).decode()
