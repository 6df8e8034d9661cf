"""``POST /v1/images/generations``: OpenAI's images API, routed to an image-output model.

The router treats ``image_generation`` requests with the modality policy (only models whose
catalog entry has ``modalities.output: [image]``); the chosen model answers with a standard image
content block, returned here in OpenAI's shape ``{"created", "data": [{"b64_json"} | {"url"}]}``
(plus ``modelyard_route``). ``n`` images are ``n`` routed calls made concurrently.

``response_format`` defaults to ``b64_json`` (as for ``gpt-image-1``: the gateway hosts no files).
When the provider answers with a URL and the caller wants ``b64_json``, the gateway downloads
it; when the provider answers with bytes and the caller wants ``url``, it gets a ``data:`` URL.

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

from app.server.auth import require_key
from app.server.completions import ROUTE_HEADER, account, check_model, route_header
from app.server.errors import ApiError, status_of
from app.server.keys import current_key
from app.server.request_log import CallRecord
from app.server.state import Gateway, gateway

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
async def images_generations(body: ImageGenerationRequest, request: Request) -> JSONResponse:
    """Generate ``n`` images for ``prompt`` with an image-output model."""
    gw = gateway(request)
    started = time.perf_counter()
    call = CallRecord(endpoint="images", model=body.model)
    try:
        check_model(gw, body.model)
        _check_generates_images(gw, body.model)
        messages = await asyncio.gather(*(gw.router.ainvoke(_router_input(body)) for _ in range(body.n)))
        data = [await _image(message, body.response_format) for message in messages]
    except Exception as exc:
        error = status_of(exc)
        call.status, call.error_class = error.status, type(exc).__name__
        if error.status == 404:
            call.error_class = "ModelNotFound"
        call.latency_s = time.perf_counter() - started
        account(gw, call)
        raise error from exc
    route = messages[0].response_metadata.get("route", {})
    call.model, call.deployment = route.get("model", body.model), route.get("deployment", "")
    call.route_reason = route.get("reason", "")
    for message in messages:
        usage = getattr(message, "usage_metadata", None) or {}
        call.input_tokens += int(usage.get("input_tokens", 0))
        call.cost_usd += float(message.response_metadata.get("cost_usd", 0.0) or 0.0)
    call.latency_s = time.perf_counter() - started
    account(gw, call)
    payload = {"created": int(time.time()), "data": data, "modelyard_route": route}
    return JSONResponse(payload, headers={ROUTE_HEADER: route_header(call.route_reason)})


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


def _router_input(body: ImageGenerationRequest) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messages": [{"role": "user", "content": body.prompt}],
        "model": body.model,
        "image_generation": True,
        "params": {"size": body.size} if body.size else {},
    }
    if body.user is not None:
        value["user"] = body.user
    key = current_key.get()
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
