"""What a catalog model can honour beyond plain chat: tools, structured output, sampling controls.

A capability is a promise the adapter keeps: a model with ``tools`` receives the request's tool
definitions and answers with tool calls; one with ``json_schema`` answers JSON that fits the
schema. Each provider states which capabilities its adapter *carries* and which are on by
default (:class:`~models.providers.ProviderInfo`); a catalog entry may switch a carried one off,
or on where its engine and model support it (``capabilities: {tools: true}`` on a self-hosted
vLLM), and claiming one the adapter cannot carry is a catalog error.

:func:`needed_by` turns an OpenAI-shaped request's fields into the capabilities it needs, so
the router chooses — and falls back to — only models that can honour them.

Example:
    >>> sorted(needed_by({"tools": [{"type": "function"}], "response_format": {"type": "json_schema"}}))
    ['json_schema', 'tools']
    >>> needed_by({"response_format": {"type": "text"}, "n": 1})
    {}
"""

from __future__ import annotations

from typing import Any

__all__ = ["CAPABILITIES", "OPTION_FIELDS", "needed_by"]

CAPABILITIES: dict[str, str] = {
    "tools": "calls the functions the request declares (tools, tool_choice)",
    "parallel_tool_calls": "decides whether one answer may hold several tool calls (parallel_tool_calls)",
    "json_schema": "answers JSON that fits a given schema (response_format json_schema)",
    "json_mode": "answers one JSON object (response_format json_object)",
    "stop": "stops before caller-given sequences (stop)",
    "seed": "samples reproducibly from a seed (seed)",
    "logprobs": "returns token log-probabilities (logprobs, top_logprobs)",
    "logit_bias": "biases given tokens (logit_bias)",
    "n": "returns several choices for one request (n > 1)",
}
"""Every capability by name, with what it promises (and the request fields that need it)."""


OPTION_FIELDS = frozenset(
    {"tools", "tool_choice", "parallel_tool_calls", "response_format", "stop", "seed", "logprobs", "top_logprobs"}
    | {"logit_bias", "n"}
)
"""The OpenAI request fields that need a capability: the router's call options (``RouteRequest.options``)."""


def needed_by(fields: dict[str, Any]) -> dict[str, str]:
    """The capabilities an OpenAI-shaped request needs, each with the field that needs it.

    Fields that ask for the default behaviour need nothing: ``response_format`` of type ``text``,
    ``n`` of 1, ``logprobs`` false, an empty tool list.
    """
    needs: dict[str, str] = {}
    if fields.get("tools"):
        needs["tools"] = "tools"
    elif fields.get("tool_choice") not in (None, "none"):
        needs["tools"] = "tool_choice"
    if fields.get("parallel_tool_calls") is not None:
        needs["parallel_tool_calls"] = "parallel_tool_calls"
    kind = (fields.get("response_format") or {}).get("type")
    if kind == "json_schema":
        needs["json_schema"] = "response_format"
    elif kind == "json_object":
        needs["json_mode"] = "response_format"
    if fields.get("stop"):
        needs["stop"] = "stop"
    if fields.get("seed") is not None:
        needs["seed"] = "seed"
    if fields.get("logprobs") or fields.get("top_logprobs"):
        needs["logprobs"] = "logprobs" if fields.get("logprobs") else "top_logprobs"
    if fields.get("logit_bias"):
        needs["logit_bias"] = "logit_bias"
    if (fields.get("n") or 1) > 1:
        needs["n"] = "n"
    return needs
