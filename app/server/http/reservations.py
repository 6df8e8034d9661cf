"""Admission-time reservations for the routes that are routed inside the call (images, prompt APIs).

Chat plans its route first and reserves the dearest planned attempt
(:func:`app.server.routes.completions.reserve`). The images and prompt routes hand their input to
the router in one call, so they reserve against the dearest model the call may reach instead: the
model named, or with ``auto`` every available model the key may use (image-output ones for
images). Either way concurrent calls overshoot a key's budget or TPM by one call's estimate at
most; the reservation is released when the call settles (:meth:`Gateway.account`).
"""

from __future__ import annotations

from typing import Any

from app.server.gateway.keys import ApiKey, Denial
from app.server.gateway.lifecycle import Call
from app.server.gateway.state import Gateway
from app.server.http.auth import refusal
from models.spec import ModelSpec
from routers.request import RouteRequest

__all__ = ["candidates", "hold", "needs_reservation", "prompt_tokens"]


def needs_reservation(key: ApiKey | None) -> bool:
    """Whether ``key`` has a budget or a TPM limit to hold an estimate against."""
    return key is not None and (key.stored.budget_usd is not None or key.tokens is not None)


def candidates(gw: Gateway, model: str, key: ApiKey | None, output: str = "text") -> list[ModelSpec]:
    """The models a call for ``model`` may reach: that one, or for ``auto`` the available ones with
    ``output`` among their output modalities that ``key`` may use."""
    available = [e.spec for e in gw.registry.entries() if e.availability.available]
    if model != "auto":
        return [spec for spec in available if spec.name == model]
    return [s for s in available if output in s.modalities.output and (key is None or key.allows(s.name))]


def prompt_tokens(messages: Any) -> int:
    """The router's fast estimate of the prompt tokens of ``messages`` (a string, messages or a prompt value)."""
    return RouteRequest.parse(messages).prompt_tokens()


async def hold(
    gw: Gateway,
    call: Call,
    key: ApiKey | None,
    model: str,
    messages: Any,
    tokens_out: int,
    output: str = "text",
    calls: int = 1,
) -> None:
    """Reserve ``calls`` calls of ``messages`` plus ``tokens_out`` at the dearest model the call may
    reach (:func:`candidates`; ``resources.usd_per_image`` included for images) against ``key``, or
    raise its 402 / 429. Nothing to do for a key without a budget or TPM limit."""
    if key is None or not needs_reservation(key):
        return
    tokens_in = prompt_tokens(messages)
    specs = candidates(gw, model, key, output)
    cost = max((_estimate(spec, tokens_in, tokens_out) for spec in specs), default=0.0)
    held = await gw.keys.areserve(key, calls * (tokens_in + tokens_out), calls * cost)
    if isinstance(held, Denial):
        raise refusal(held)
    call.reservation = held


def _estimate(spec: ModelSpec, tokens_in: int, tokens_out: int) -> float:
    per_image = float(spec.resources.get("usd_per_image", 0.0)) if "image" in spec.modalities.output else 0.0
    return spec.cost.of(tokens_in, tokens_out) + per_image
