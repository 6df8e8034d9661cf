"""OpenAI's Responses API, translated to and from a chat completion (pure functions, no I/O).

A ``POST /v1/responses`` body becomes a :class:`ChatCompletionRequest`: ``instructions`` a system
message; ``input`` (a string, or items) the messages — message items with ``input_text`` /
``input_image`` / ``output_text`` / ``refusal`` parts, ``function_call`` items the assistant's
``tool_calls``, ``function_call_output`` items tool messages; the flat function ``tools``, the
``tool_choice``, ``text.format`` (``response_format``), ``text.verbosity``, ``reasoning.effort``,
``max_output_tokens`` (``max_tokens``) and the sampling fields their chat names. Every other field
that cannot be honoured — built-in tools (web search, file search, computer, code interpreter,
MCP, …), ``background``, ``include``, ``truncation: auto``, ``conversation``, ``prompt`` … — is
refused with a :class:`~core.errors.ParameterError` naming it, never dropped.

The chat answer becomes a Response object (:func:`response_from_chat`): ``resp_`` id, status
``completed`` or ``incomplete`` (a length cut is ``max_output_tokens``), message and
``function_call`` output items, ``usage`` in input/output tokens, the catalog model's name and the
gateway's ``modelyard_route``. The streamed form is :mod:`app.server.dialects.responses_events`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.server.http.schemas import ChatCompletionRequest
from core.errors import ParameterError

__all__ = [
    "CHAT_TO_RESPONSES_FIELDS",
    "ResponsesRequest",
    "chat_request",
    "finish_status",
    "input_items",
    "new_id",
    "output_items",
    "response_from_chat",
    "response_object",
    "usage_from_chat",
]

CHAT_TO_RESPONSES_FIELDS = {
    "messages": "input",
    "max_tokens": "max_output_tokens",
    "response_format": "text.format",
    "verbosity": "text.verbosity",
    "reasoning_effort": "reasoning.effort",
}
"""Chat-completion field → the Responses field it came from (an error about one names the other)."""

_HINTS = ("max_cost", "task", "modelyard_cache")
"""Modelyard's own request hints (``extra_body``), carried to the chat request as they are."""

_PASSED = ("temperature", "top_p", "user", "metadata", "parallel_tool_calls", "service_tier")
_PASSED_EXTRA = ("safety_identifier", "prompt_cache_key")
"""Fields a chat completion takes under the same name (the latter as forwarded extras)."""


class ResponsesRequest(BaseModel):
    """``POST /v1/responses`` (fields it does not know are refused by name, never dropped).

    Example:
        >>> body = ResponsesRequest(model="auto", input="Hi", instructions="Be brief.")
        >>> [m.role for m in chat_request(body, input_items(body)).messages]
        ['system', 'user']
    """

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    """A catalog name, or ``auto`` to let the router choose."""
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    """A system message in front of the conversation (not carried to a continuation)."""
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: dict[str, Any] | None = None
    """``{"format": {"type": "text" | "json_object" | "json_schema", ...}, "verbosity": ...}``."""
    reasoning: dict[str, Any] | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = None
    top_p: float | None = None
    user: str | None = None
    metadata: dict[str, str] | None = None
    service_tier: str | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    store: bool | None = None
    """``false``: the answer is not kept (it cannot be continued or read back)."""
    previous_response_id: str | None = None
    """Continue this stored response: its input and output come before this request's input."""
    include: list[str] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    background: bool | None = None

    @property
    def stored(self) -> bool:
        return self.store is not False


def new_id(prefix: str) -> str:
    """A fresh id such as ``resp_…``, ``msg_…``, ``fc_…``."""
    return f"{prefix}_{uuid.uuid4().hex}"


def _refuse(param: str, why: str) -> ParameterError:
    return ParameterError(f"'{param}' cannot be honoured by this gateway's /v1/responses: {why}", param=param)


# ---- request → chat completion ------------------------------------------------------------------
def input_items(body: ResponsesRequest) -> list[dict[str, Any]]:
    """This request's ``input`` as items (a string is one user message)."""
    if isinstance(body.input, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": body.input}]}]
    return [dict(item) for item in body.input]


def chat_request(body: ResponsesRequest, items: list[dict[str, Any]], first_input: int = 0) -> ChatCompletionRequest:
    """The chat completion for ``body`` over the conversation ``items`` (earlier turns, then the input
    from index ``first_input``, so an error names ``input[i]`` of this request).

    Raises:
        ParameterError: a field or item that cannot be honoured, named.
    """
    _refuse_unsupported(body)
    fields: dict[str, Any] = {name: getattr(body, name) for name in _PASSED if getattr(body, name) is not None}
    fields.update({name: value for name in _HINTS + _PASSED_EXTRA if (value := _extra(body, name)) is not None})
    if body.tools:
        fields["tools"] = _chat_tools(body.tools)
    if body.tool_choice is not None:
        fields["tool_choice"] = _chat_tool_choice(body.tool_choice)
    fields.update(_text_fields(body.text or {}))
    if body.reasoning and body.reasoning.get("effort") is not None:
        fields["reasoning_effort"] = body.reasoning["effort"]
    if body.max_output_tokens is not None:
        fields["max_tokens"] = body.max_output_tokens
    if body.stream:
        fields.update(stream=True, stream_options={"include_usage": True})  # usage and route on the last chunk
    messages = [{"role": "system", "content": body.instructions}] if body.instructions else []
    messages += _chat_messages(items, first_input)
    if not messages:
        raise ParameterError("input: give at least one input item (or instructions)", param="input")
    try:
        return ChatCompletionRequest(model=body.model, messages=messages, **fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        param = CHAT_TO_RESPONSES_FIELDS.get(where.split(".")[0], where.split(".")[0])
        raise ParameterError(f"{param}: {first['msg']}", param=param) from None


def _extra(body: ResponsesRequest, name: str) -> Any:
    return (body.model_extra or {}).get(name)


def _refuse_unsupported(body: ResponsesRequest) -> None:
    known = set(_HINTS + _PASSED_EXTRA)
    for name, value in (body.model_extra or {}).items():
        if name not in known and value is not None:
            raise _refuse(name, "the field is not supported here; leave it out")
    if body.background:
        raise _refuse("background", "responses run in the request; leave it out or send false")
    if body.include:
        raise _refuse("include", f"cannot produce {', '.join(body.include)}; leave it out")
    if body.truncation == "auto":
        raise _refuse("truncation", "the input is never truncated; send 'disabled' or leave it out")
    if (body.stream_options or {}).get("include_obfuscation"):
        raise _refuse("stream_options.include_obfuscation", "stream events are not padded; send false")
    for name in set(body.stream_options or {}) - {"include_obfuscation"}:
        raise _refuse(f"stream_options.{name}", "not a stream option this gateway knows")
    for name, value in (body.reasoning or {}).items():
        if name != "effort" and value is not None:
            raise _refuse(f"reasoning.{name}", "reasoning summaries are not produced; leave it out")


def _chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    chat_tools = []
    for index, tool in enumerate(tools):
        kind = tool.get("type")
        if kind != "function":
            raise _refuse(f"tools[{index}]", f"the built-in tool '{kind}' is not available; only function tools are")
        if not tool.get("name"):
            raise ParameterError(f"tools[{index}].name: a function tool needs a name", param=f"tools[{index}].name")
        function = {
            key: tool[key] for key in ("name", "description", "parameters", "strict") if tool.get(key) is not None
        }
        chat_tools.append({"type": "function", "function": function})
    return chat_tools


def _chat_tool_choice(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        if choice in ("auto", "none", "required"):
            return choice
        raise ParameterError(f"tool_choice: '{choice}' is not auto, none or required", param="tool_choice")
    if choice.get("type") == "function" and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise _refuse("tool_choice", f"a '{choice.get('type')}' choice is not available; name a function tool")


def _text_fields(text: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in set(text) - {"format", "verbosity"}:
        raise _refuse(f"text.{name}", "not a text option this gateway knows")
    if text.get("verbosity") is not None:
        fields["verbosity"] = text["verbosity"]
    fmt = text.get("format") or {"type": "text"}
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "json_object":
        fields["response_format"] = {"type": "json_object"}
    elif kind == "json_schema":
        if not fmt.get("name") or not isinstance(fmt.get("schema"), dict):
            raise ParameterError("text.format: a json_schema format needs a name and a schema", param="text.format")
        keys = ("name", "schema", "strict", "description")
        fields["response_format"] = {"type": "json_schema", "json_schema": {k: fmt[k] for k in keys if k in fmt}}
    elif kind != "text":
        raise ParameterError(f"text.format.type: '{kind}' is not text, json_object or json_schema", param="text.format")
    return fields


def _chat_messages(items: list[dict[str, Any]], first_input: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"input[{index - first_input}]" if index >= first_input else f"previous_response_id (item {index})"
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_chat_message(item, where))
        elif kind == "function_call":
            _add_tool_call(messages, item, where)
        elif kind == "function_call_output":
            output = item.get("output")
            content = output if isinstance(output, str) else _parts_text(output, f"{where}.output")
            messages.append({"role": "tool", "tool_call_id": _required(item, "call_id", where), "content": content})
        else:
            raise _refuse(f"{where}.type", f"'{kind}' items are not available; send messages and function calls")
    return messages


def _required(item: dict[str, Any], name: str, where: str) -> Any:
    if item.get(name) in (None, ""):
        raise ParameterError(f"{where}.{name}: field required", param=f"{where}.{name}")
    return item[name]


def _chat_message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "system", "developer", "assistant"):
        raise ParameterError(
            f"{where}.role: '{role}' is not user, system, developer or assistant", param=f"{where}.role"
        )
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise ParameterError(f"{where}.content: a string or a list of parts", param=f"{where}.content")
    return {"role": role, "content": [_chat_part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]}


def _chat_part(part: Any, where: str) -> dict[str, Any]:
    if not isinstance(part, dict):
        raise ParameterError(f"{where}: a content part is an object with a type", param=where)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        return {"type": "text", "text": part.get("text", "")}
    if kind == "refusal":
        return {"type": "refusal", "refusal": part.get("refusal", "")}
    if kind == "input_image":
        if not part.get("image_url"):
            raise _refuse(f"{where}.file_id", "uploaded files are not available; send image_url (https or data URL)")
        image = {"url": part["image_url"], **({"detail": part["detail"]} if part.get("detail") else {})}
        return {"type": "image_url", "image_url": image}
    raise _refuse(f"{where}.type", f"'{kind}' parts are not available; send input_text or input_image")


def _parts_text(parts: Any, where: str) -> str:
    if not isinstance(parts, list):
        raise ParameterError(f"{where}: a string or a list of input_text parts", param=where)
    texts = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind != "input_text":
            raise _refuse(f"{where}[{index}].type", f"'{kind}' tool output is not available; send input_text")
        texts.append(str(part.get("text", "")))
    return "".join(texts)


def _add_tool_call(messages: list[dict[str, Any]], item: dict[str, Any], where: str) -> None:
    arguments = item.get("arguments", "")
    if not isinstance(arguments, str):
        raise ParameterError(f"{where}.arguments: a JSON string", param=f"{where}.arguments")
    function = {"name": _required(item, "name", where), "arguments": arguments}
    call = {"id": _required(item, "call_id", where), "type": "function", "function": function}
    if messages and messages[-1]["role"] == "assistant":  # one assistant turn: its text, then its calls
        messages[-1].setdefault("tool_calls", []).append(call)
        return
    messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


# ---- chat completion → Response -----------------------------------------------------------------
def response_object(
    body: ResponsesRequest, response_id: str, created_at: float, status: str = "in_progress", **fields: Any
) -> dict[str, Any]:
    """The Response object for ``body`` (``fields`` fill in or replace ``output``, ``usage``, ``model``…)."""
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(created_at),
        "status": status,
        "model": body.model,
        "output": [],
        "usage": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.instructions,
        "metadata": body.metadata or {},
        "parallel_tool_calls": body.parallel_tool_calls is not False,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "max_output_tokens": body.max_output_tokens,
        "tool_choice": body.tool_choice or "auto",
        "tools": body.tools or [],
        "text": {"format": (body.text or {}).get("format") or {"type": "text"}},
        "previous_response_id": body.previous_response_id,
        "store": body.stored,
        "user": body.user,
        "truncation": "disabled",
        "background": False,
        **fields,
    }


def output_items(message: dict[str, Any], status: str = "completed") -> list[dict[str, Any]]:
    """A chat answer's message as Response output items: the text (and refusal), then each tool call."""
    parts: list[dict[str, Any]] = []
    if message.get("content"):
        parts.append({"type": "output_text", "text": message["content"], "annotations": [], "logprobs": []})
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    items = []
    if parts:
        items.append({"type": "message", "id": new_id("msg"), "role": "assistant", "status": status, "content": parts})
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        items.append(
            {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": call.get("id") or new_id("call"),
                "name": function.get("name", ""),
                "arguments": function.get("arguments", ""),
                "status": "completed",
            }
        )
    return items


def usage_from_chat(usage: dict[str, Any] | None) -> dict[str, Any]:
    """A chat ``usage`` in the Responses shape.

    Example:
        >>> usage_from_chat({"prompt_tokens": 3, "completion_tokens": 2})["total_tokens"]
        5
    """
    usage = usage or {}
    tokens_in, tokens_out = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    return {
        "input_tokens": tokens_in,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": tokens_out,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": tokens_in + tokens_out,
    }


def finish_status(finish_reason: str | None) -> tuple[str, dict[str, str] | None]:
    """The Response status and ``incomplete_details`` for a chat ``finish_reason``."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def response_from_chat(
    payload: dict[str, Any], body: ResponsesRequest, response_id: str, created_at: float
) -> dict[str, Any]:
    """The Response object for a non-streamed chat completion ``payload``."""
    choice = (payload.get("choices") or [{}])[0]
    status, incomplete = finish_status(choice.get("finish_reason"))
    return response_object(
        body,
        response_id,
        created_at,
        status,
        model=payload.get("model", body.model),
        output=output_items(choice.get("message") or {}, "incomplete" if incomplete else "completed"),
        usage=usage_from_chat(payload.get("usage")),
        incomplete_details=incomplete,
        completed_at=int(time.time()) if status == "completed" else None,
        modelyard_route=payload.get("modelyard_route", {}),
    )
