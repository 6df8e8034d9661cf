"""Prompt APIs: every ``config/prompts/*.yaml`` is served as ``POST /api/prompts/{name}``.

``GET /api/prompts`` lists the prompts with their variables (and any file that failed to load,
with its file, line and field). ``POST /api/prompts/{name}`` with ``{"variables": {...}}`` runs
``prompt | router`` — the prompt's model (or ``auto``), task and parameters as routing hints —
and answers ``{"output", "model", "prompt", "usage", "modelyard_route"}``; with ``"stream": true``
it answers SSE events ``{"output": piece}``, then one with the model, usage and route, then
``[DONE]``. Unknown prompt 404 (listing the known ones); missing or unknown variable 422 naming
it; the prompt's model unknown or unavailable 404. Calls are logged and measured like chat
(endpoints ``prompt`` and ``prompt_stream``). A key with a budget or TPM limit holds the call's estimate
(the rendered prompt and ``max_tokens`` at the dearest model it may reach) from admission until the call
settles; over it: 402 / 429. Files are re-read when they change, so a new
prompt is an API without a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from langchain_core.messages import BaseMessage, convert_to_openai_messages
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ConfigDict

from app.server.gateway.keys import ApiKey
from app.server.gateway.lifecycle import Call
from app.server.gateway.state import Gateway, gateway
from app.server.http import reservations
from app.server.http.auth import ConsumerKey, is_admin, require_key
from app.server.http.errors import ApiError
from app.server.http.headers import ROUTE_HEADER, route_header
from app.server.http.sse import settled_stream, sse, usage_of
from app.server.http.timing import arrived
from app.server.http.upstream_text import route_without_upstream_text
from app.server.routes.completions import answer_routed, check_model, fail
from chains.prompt_library import Prompt, PromptInputError

__all__ = ["PromptRunRequest", "answer", "router"]

router = APIRouter(prefix="/api/prompts", tags=["prompts"], dependencies=[Depends(require_key)])


class PromptRunRequest(BaseModel):
    """``POST /api/prompts/{name}``."""

    model_config = ConfigDict(extra="forbid")

    variables: dict[str, Any] = {}
    """Values of the prompt's variables (defaults fill the rest)."""
    stream: bool = False
    """Answer as server-sent events."""
    user: str | None = None
    """Sticky A/B assignment key, as in chat."""


@router.get("")
def list_prompts(request: Request) -> dict[str, Any]:
    """The prompts with their variables, and the files that could not be loaded."""
    library = gateway(request).prompts
    data = [prompt.describe() for prompt in library.prompts()]
    errors = [
        {"file": file_name, "line": exc.line, "field": exc.field or None, "message": str(exc)}
        for file_name, exc in sorted(library.errors.items())
    ]
    return {"object": "list", "data": data, "errors": errors}


@router.post("/{name}")
async def run_prompt(name: str, body: PromptRunRequest, request: Request, key: ConsumerKey) -> Response:
    """Fill the prompt's template with ``variables`` and answer through the router."""
    return await answer(request, _prompt(gateway(request), name), body, key)


async def answer(
    request: Request, prompt: Prompt, body: PromptRunRequest, key: ApiKey | None, endpoint: str = "prompt"
) -> Response:
    """Run ``prompt`` for ``body`` as JSON or SSE: the one lifecycle of a prompt call (open, model check,
    variables, reservation, answer, settle). ``endpoint`` labels the call (``<endpoint>_stream`` when
    streamed); services (``routes/services.py``) run their versions through it."""
    gw = gateway(request)
    endpoint = f"{endpoint}_stream" if body.stream else endpoint
    call = gw.open_call(endpoint, prompt.spec.model, key, started=arrived(request))
    try:
        check_model(gw, prompt.spec.model, key)
        inputs = prompt.inputs(body.variables)
        tokens_out = int(prompt.spec.params.get("max_tokens") or gw.router.config.cost.expected_output_tokens)
        await reservations.hold(gw, call, key, prompt.spec.model, prompt.template.invoke(inputs), tokens_out)
    except (PromptInputError, ApiError) as exc:
        raise fail(call, exc) from exc
    config: RunnableConfig = {"configurable": _call_hints(body, key)}
    if body.stream:
        return await _stream(gw, prompt, inputs, config, call, is_admin(request))
    return await _complete(gw, prompt, inputs, config, call, is_admin(request))


def _prompt(gw: Gateway, name: str) -> Prompt:
    try:
        return gw.prompts.get(name)
    except KeyError as exc:
        broken = [e for file_name, e in gw.prompts.errors.items() if file_name.rsplit(".", 1)[0] == name]
        if broken:  # the file is there but does not load: a server-side configuration error
            raise ApiError(500, f"prompt '{name}' cannot be loaded: {broken[0]}", code="invalid_prompt") from exc
        raise ApiError(404, exc.args[0], param="name", code="prompt_not_found") from exc


def _call_hints(body: PromptRunRequest, key: ApiKey | None) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    if body.user is not None:
        hints["user"] = body.user
    if key is not None and key.allowed_models:
        hints["allowed_models"] = key.allowed_models
    return hints


def _add(call: Call, piece: BaseMessage) -> None:
    """Add a message's (or streamed chunk's) tokens and cost to ``call``."""
    usage = getattr(piece, "usage_metadata", None) or {}
    record = call.record
    call.usage(
        record.input_tokens + int(usage.get("input_tokens", 0)),
        record.output_tokens + int(usage.get("output_tokens", 0)),
        record.cost_usd + float(piece.response_metadata.get("cost_usd", 0.0) or 0.0),
    )


async def _complete(
    gw: Gateway, prompt: Prompt, inputs: dict[str, Any], config: RunnableConfig, call: Call, reveal: bool
) -> JSONResponse:
    """The filled template through the same decision and transports as a chat completion (forwarded
    as JSON when every attempt speaks OpenAI's HTTP API), answered in the prompt API's shape."""
    messages = prompt.template.invoke(inputs).to_messages()
    hints = dict(config.get("configurable") or {})
    upstream: dict[str, Any] = {"messages": convert_to_openai_messages(messages)}
    if hints.get("user") is not None:
        upstream["user"] = hints["user"]
    try:
        routed = await gw.router.aroute({"messages": messages, **prompt.router_hints(), **hints})
        answer, route = await answer_routed(gw, routed, upstream, call)
    except Exception as exc:
        raise fail(call, exc) from exc
    call.answered(route)
    call.settle()
    record = call.record
    payload = {
        "output": answer["choices"][0]["message"].get("content") or "",
        "model": record.model,
        "prompt": prompt.name,
        "usage": usage_of(record.input_tokens, record.output_tokens),
        "modelyard_route": route if reveal else route_without_upstream_text(route),
    }
    return JSONResponse(payload, headers={ROUTE_HEADER: route_header(record.route_reason)})


async def _stream(
    gw: Gateway, prompt: Prompt, inputs: dict[str, Any], config: RunnableConfig, call: Call, reveal: bool
) -> StreamingResponse:
    chunks = prompt.chain(gw.router).astream(inputs, config)
    try:
        first = await anext(chunks)
    except Exception as exc:
        raise fail(call, exc) from exc
    return StreamingResponse(
        _events(prompt, call, first, chunks, reveal),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )


def _events(
    prompt: Prompt, call: Call, first: BaseMessage, rest: AsyncIterator[BaseMessage], reveal: bool
) -> AsyncIterator[bytes]:
    return settled_stream(call, _prompt_events(prompt, call, first, rest, reveal), rest, reveal=reveal)


async def _prompt_events(
    prompt: Prompt, call: Call, first: BaseMessage, rest: AsyncIterator[BaseMessage], reveal: bool
) -> AsyncIterator[bytes]:
    route: dict[str, Any] = {}
    piece: BaseMessage | None = first
    while piece is not None:
        if piece.text:
            call.first_token()
            yield sse({"output": piece.text}).encode()
        _add(call, piece)
        route = piece.response_metadata.get("route", route)
        piece = await anext(rest, None)
    call.answered(route)
    record = call.record
    usage = usage_of(record.input_tokens, record.output_tokens)
    shown = route if reveal else route_without_upstream_text(route)
    yield sse({"model": record.model, "prompt": prompt.name, "usage": usage, "modelyard_route": shown}).encode()
    yield sse("[DONE]").encode()
