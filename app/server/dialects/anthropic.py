"""Anthropic's Messages API (``POST /v1/messages``) ⇄ the gateway's Chat Completions pipeline.

Pure translation, no I/O. :func:`to_chat_request` turns a :class:`MessagesRequest` into a
:class:`~app.server.http.schemas.ChatCompletionRequest`; :func:`to_message` turns the OpenAI
``chat.completion`` answer into an Anthropic ``message``; :func:`error_body` gives an error
Anthropic's shape. The stream is translated by :mod:`app.server.dialects.anthropic_stream`.

Every request field is mapped, forwarded or refused with a 400 naming it — never dropped:

* mapped: ``system`` (string or text blocks) → a system message; text, image (base64 or url),
  ``tool_use`` and ``tool_result`` blocks → OpenAI parts, ``tool_calls`` and ``tool`` messages
  (``is_error`` becomes an ``Error:`` prefix on the result, which the model reads);
  ``tools`` → function tools; ``tool_choice`` → ``tool_choice`` + ``parallel_tool_calls``;
  ``max_tokens``, ``stop_sequences`` → ``stop``, ``temperature``, ``top_p``,
  ``metadata.user_id`` → ``user``, ``stream``;
  ``output_config.format`` → ``response_format`` (json_schema); ``output_config.effort`` →
  ``reasoning_effort`` (forwarded to OpenAI-protocol deployments, refused by the others);
* forwarded the way the OpenAI path forwards an unknown field: ``top_k`` (vLLM and llama.cpp
  take it under that name; a model that can take it neither way refuses it by name);
* accepted as no-ops: ``service_tier: "auto"``, ``speed: "standard"`` (the defaults);
* passed on: Modelyard's hints ``max_cost``, ``task``, ``modelyard_cache``;
* ignored, because it changes cost and latency but never the answer: ``cache_control`` (prompt
  caching) at the top level and on any block, tool or system block;
* refused: ``thinking`` other than ``{"type": "disabled"}``, server tools (``web_search``, ``bash``,
  ...), document / thinking / file blocks, images inside a tool result, a final assistant message
  (a prefill: OpenAI-style models answer it rather than continue it), any other field.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.server.http.errors import ApiError
from app.server.http.schemas import ChatCompletionRequest
from core.errors import ParameterError

__all__ = [
    "CHAT_TO_MESSAGES_FIELDS",
    "HINTS",
    "MessagesMessage",
    "MessagesRequest",
    "check_answer",
    "error_body",
    "error_type",
    "message_id",
    "stop_reason",
    "to_chat_request",
    "to_message",
]

HINTS = ("max_cost", "task", "modelyard_cache")
"""Modelyard's own request hints, accepted beside Anthropic's fields and passed to the pipeline."""

CHAT_TO_MESSAGES_FIELDS = {
    "stop": "stop_sequences",
    "user": "metadata.user_id",
    "response_format": "output_config.format",
    "reasoning_effort": "output_config.effort",
    "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
}
"""Chat Completions fields whose Messages API name differs, for errors the chat pipeline raises."""

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use"}
_STOP_REASONS["content_filter"] = "refusal"
_BLOCK_KEYS = {
    "text": {"type", "text", "cache_control", "citations"},
    "image": {"type", "source", "cache_control"},
    "tool_use": {"type", "id", "name", "input", "cache_control"},
    "tool_result": {"type", "tool_use_id", "content", "is_error", "cache_control"},
}
_DEFAULTS = {"service_tier": "auto", "speed": "standard"}
"""Fields whose default value asks for nothing this gateway would have to do (any other value is refused)."""
_TOOL_KEYS = {"type", "name", "description", "input_schema", "cache_control", "strict"}


class MessagesMessage(BaseModel):
    """One turn of a Messages API conversation."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str | list[dict[str, Any]]


class MessagesRequest(BaseModel):
    """``POST /v1/messages``, as the ``anthropic`` SDK sends it (other fields are kept, then refused).

    Example:
        >>> body = MessagesRequest(model="auto", max_tokens=64, system="Be brief.",
        ...                        messages=[{"role": "user", "content": "hi"}])
        >>> [m.role for m in to_chat_request(body).messages]
        ['system', 'user']
    """

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    """A catalog name, or ``auto`` to let the router choose."""
    messages: list[MessagesMessage] = Field(min_length=1)
    max_tokens: int = Field(ge=1)
    """Required, as in Anthropic's API."""
    system: str | list[dict[str, Any]] | None = None
    stop_sequences: list[str] | None = None
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = Field(None, ge=1)
    metadata: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None
    output_config: dict[str, Any] | None = None
    """``format`` (a JSON schema) → ``response_format``; ``effort`` → ``reasoning_effort``."""
    cache_control: dict[str, Any] | None = None
    """Automatic prompt caching: ignored, as it changes cost and latency, not the answer."""


def to_chat_request(body: MessagesRequest) -> ChatCompletionRequest:
    """The Chat Completions request for ``body``; a :class:`ParameterError` naming a field it cannot honour."""
    fields: dict[str, Any] = {"model": body.model, "messages": _messages(body), "max_tokens": body.max_tokens}
    if body.stream:  # the usage chunk carries the token counts message_delta reports
        fields.update(stream=True, stream_options={"include_usage": True})
    given = {"temperature": body.temperature, "top_p": body.top_p, "top_k": body.top_k, "stop": body.stop_sequences}
    fields.update({name: value for name, value in given.items() if value is not None})
    if body.metadata:
        fields.update(_metadata(body.metadata))
    if body.tools:
        fields["tools"] = [_tool(tool, f"tools[{index}]") for index, tool in enumerate(body.tools)]
    if body.tool_choice is not None:
        fields.update(_tool_choice(body.tool_choice))
    if body.thinking is not None and body.thinking.get("type") != "disabled":
        raise ParameterError(
            "thinking: extended thinking has no Chat Completions equivalent this gateway can honour; "
            "leave it out or send {'type': 'disabled'}",
            param="thinking",
        )
    if body.output_config:
        fields.update(_output_config(body.output_config))
    for name, value in (body.model_extra or {}).items():
        if name in _DEFAULTS and value in (None, _DEFAULTS[name]):
            continue  # asks for what every request gets
        if name not in HINTS:
            raise ParameterError(f"{name}: this Messages API field cannot be honoured here; leave it out", param=name)
        fields[name] = value
    try:
        return ChatCompletionRequest.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise ParameterError(f"{where}: {first.get('msg', 'invalid value')}", param=where) from None


# ---- request ------------------------------------------------------------------------------------
def _refuse(where: str, why: str) -> ParameterError:
    return ParameterError(f"{where}: {why}", param=where)


def _messages(body: MessagesRequest) -> list[dict[str, Any]]:
    converted: list[dict[str, Any]] = []
    if body.system:
        converted.append({"role": "system", "content": _system(body.system)})
    for index, message in enumerate(body.messages):
        where = f"messages[{index}]"
        blocks = [{"type": "text", "text": message.content}] if isinstance(message.content, str) else message.content
        for position, block in enumerate(blocks):
            _check_block(block, f"{where}.content[{position}]")
        if message.role == "assistant":
            converted.append(_assistant(blocks, where))
        else:
            converted.extend(_user(blocks, where))
    if body.messages[-1].role == "assistant":
        raise _refuse(
            f"messages[{len(body.messages) - 1}]",
            "a final assistant message (a prefill) cannot be honoured: the models behind this gateway answer it "
            "rather than continue it; end with a user message",
        )
    return converted


def _system(system: str | list[dict[str, Any]]) -> str:
    if isinstance(system, str):
        return system
    for index, block in enumerate(system):
        if block.get("type") != "text" or set(block) - {"type", "text", "cache_control", "citations"}:
            raise _refuse(f"system[{index}]", "only text blocks can be a system prompt")
    return "\n\n".join(str(block.get("text", "")) for block in system)


def _check_block(block: dict[str, Any], where: str) -> None:
    kind = block.get("type")
    if kind not in _BLOCK_KEYS:
        known = ", ".join(_BLOCK_KEYS)
        raise _refuse(f"{where}.type", f"a '{kind}' block cannot be honoured here; the gateway takes {known} blocks")
    unknown = sorted(set(block) - _BLOCK_KEYS[kind])
    if unknown:
        raise _refuse(f"{where}.{unknown[0]}", f"this field of a {kind} block cannot be honoured here; leave it out")
    if block.get("citations"):
        raise _refuse(f"{where}.citations", "citations cannot be honoured here; leave them out")


def _assistant(blocks: list[dict[str, Any]], where: str) -> dict[str, Any]:
    texts, calls = [], []
    for position, block in enumerate(blocks):
        if block["type"] == "text":
            texts.append(str(block.get("text", "")))
        elif block["type"] == "tool_use":
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            function = {"name": block.get("name", ""), "arguments": arguments}
            calls.append({"id": block.get("id", ""), "type": "function", "function": function})
        else:
            raise _refuse(f"{where}.content[{position}]", f"an assistant message cannot hold a {block['type']} block")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return message


def _user(blocks: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Tool results become ``tool`` messages (first, as OpenAI needs them right after the tool calls);
    the rest one user message."""
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for position, block in enumerate(blocks):
        at = f"{where}.content[{position}]"
        if block["type"] == "tool_result":
            results.append(_tool_result(block, at))
        elif block["type"] == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif block["type"] == "image":
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block.get("source") or {}, at)}})
        else:
            raise _refuse(at, f"a user message cannot hold a {block['type']} block")
    if not parts:
        return results
    if all(part["type"] == "text" for part in parts) and len(parts) == 1:
        return [*results, {"role": "user", "content": parts[0]["text"]}]
    return [*results, {"role": "user", "content": parts}]


def _image_url(source: dict[str, Any], where: str) -> str:
    if source.get("type") == "base64" and source.get("media_type") and source.get("data"):
        return f"data:{source['media_type']};base64,{source['data']}"
    if source.get("type") == "url" and source.get("url"):
        return str(source["url"])
    raise _refuse(f"{where}.source", "an image source must be base64 (media_type, data) or url (url)")


def _tool_result(block: dict[str, Any], where: str) -> dict[str, Any]:
    if not block.get("tool_use_id"):
        raise _refuse(f"{where}.tool_use_id", "field required")
    content = block.get("content") or ""
    if isinstance(content, list):
        for position, part in enumerate(content):
            if part.get("type") != "text":
                raise _refuse(
                    f"{where}.content[{position}]",
                    f"a tool result can carry only text here (got a {part.get('type')} block)",
                )
        content = "".join(str(part.get("text", "")) for part in content)
    text = f"Error: {content}" if block.get("is_error") else str(content)
    return {"role": "tool", "tool_call_id": block["tool_use_id"], "content": text}


def _tool(tool: dict[str, Any], where: str) -> dict[str, Any]:
    if tool.get("type", "custom") != "custom":
        raise _refuse(
            f"{where}.type", f"the server tool '{tool['type']}' cannot be honoured here; declare a custom tool"
        )
    unknown = sorted(set(tool) - _TOOL_KEYS)
    if unknown:
        raise _refuse(f"{where}.{unknown[0]}", "this tool field cannot be honoured here; leave it out")
    if not tool.get("name") or not isinstance(tool.get("input_schema"), dict):
        raise _refuse(where, "a tool needs a name and an input_schema object")
    function: dict[str, Any] = {"name": tool["name"], "parameters": tool["input_schema"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    if tool.get("strict") is not None:
        function["strict"] = tool["strict"]
    return {"type": "function", "function": function}


def _tool_choice(choice: dict[str, Any]) -> dict[str, Any]:
    kind = choice.get("type")
    if set(choice) - {"type", "name", "disable_parallel_tool_use"}:
        extra = sorted(set(choice) - {"type", "name", "disable_parallel_tool_use"})[0]
        raise _refuse(f"tool_choice.{extra}", "this field cannot be honoured here; leave it out")
    fields: dict[str, Any] = {}
    if kind == "tool":
        if not choice.get("name"):
            raise _refuse("tool_choice.name", "field required when type is 'tool'")
        fields["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    elif kind in ("auto", "any", "none"):
        fields["tool_choice"] = {"auto": "auto", "any": "required", "none": "none"}[kind]
    else:
        raise _refuse("tool_choice.type", f"must be auto, any, tool or none (got {kind!r})")
    if choice.get("disable_parallel_tool_use") is not None and kind != "none":
        fields["parallel_tool_calls"] = not choice["disable_parallel_tool_use"]
    return fields


def _output_config(config: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - {"format", "effort"})
    if unknown:
        raise _refuse(f"output_config.{unknown[0]}", "this field cannot be honoured here; leave it out")
    fields: dict[str, Any] = {}
    form = config.get("format")
    if form is not None:
        if form.get("type") != "json_schema" or not isinstance(form.get("schema"), dict):
            raise _refuse("output_config.format", "must be {'type': 'json_schema', 'schema': {...}}")
        fields["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": form["schema"]}}
    if config.get("effort") is not None:
        fields["reasoning_effort"] = config["effort"]
    return fields


def _metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(metadata) - {"user_id"})
    if unknown:
        raise _refuse(f"metadata.{unknown[0]}", "only metadata.user_id can be honoured here")
    return {"user": str(metadata["user_id"])} if metadata.get("user_id") is not None else {}


# ---- answer -------------------------------------------------------------------------------------
def to_message(payload: dict[str, Any], stop_sequences: list[str] | None = None) -> dict[str, Any]:
    """The Anthropic ``message`` for an OpenAI ``chat.completion`` ``payload`` (its first choice).

    Example:
        >>> answer = {"id": "chatcmpl-1", "model": "m", "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        ...           "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
        >>> message = to_message(answer)
        >>> message["id"], message["content"], message["stop_reason"], message["usage"]
        ('msg_1', [{'type': 'text', 'text': 'hi'}], 'end_turn', {'input_tokens': 3, 'output_tokens': 1})
    """
    choice = (payload.get("choices") or [{}])[0]
    answer = choice.get("message") or {}
    text = answer.get("content")
    if isinstance(text, list):
        text = "".join(str(part.get("text", "")) for part in text if isinstance(part, dict))
    text = text or answer.get("refusal")  # a refusal is the model's text
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content += [_tool_use(call) for call in answer.get("tool_calls") or []]
    reason, sequence = stop_reason(choice, stop_sequences)
    usage = payload.get("usage") or {}
    message = {
        "id": message_id(str(payload.get("id", ""))),
        "type": "message",
        "role": "assistant",
        "content": content,
        "model": payload.get("model", ""),
        "stop_reason": reason,
        "stop_sequence": sequence,
        "usage": {
            "input_tokens": int(usage.get("prompt_tokens") or 0),
            "output_tokens": int(usage.get("completion_tokens") or 0),
        },
    }
    if "modelyard_route" in payload:
        message["modelyard_route"] = payload["modelyard_route"]
    return message


def check_answer(payload: dict[str, Any]) -> None:
    """Raise the :class:`ApiError` (502) :func:`to_message` would raise for ``payload``: a tool call whose
    arguments are not a JSON object. The chat lifecycle runs this before it settles the call, so the
    request log and metrics hold the status the client gets.

    Example:
        >>> broken = {"function": {"name": "order_status", "arguments": '{"order_id": 10'}}
        >>> check_answer({"choices": [{"message": {"tool_calls": [broken]}}]})
        Traceback (most recent call last):
        ...
        app.server.http.errors.ApiError: the model's arguments for tool 'order_status' are not a JSON object
    """
    answer = (payload.get("choices") or [{}])[0].get("message") or {}
    for call in answer.get("tool_calls") or []:
        _tool_input(call.get("function") or {})


def message_id(chat_id: str) -> str:
    """``msg_<request id>`` for a ``chatcmpl-<request id>``."""
    return "msg_" + (chat_id.removeprefix("chatcmpl-") or uuid.uuid4().hex)


def stop_reason(choice: dict[str, Any], stop_sequences: list[str] | None = None) -> tuple[str, str | None]:
    """Anthropic's ``stop_reason`` and ``stop_sequence`` for an OpenAI choice.

    A ``stop`` is ``stop_sequence`` only when the upstream says which sequence matched (vLLM's
    ``stop_reason``); OpenAI's answer does not, so it is then ``end_turn``.

    Example:
        >>> stop_reason({"finish_reason": "stop", "stop_reason": "END"}, ["END"])
        ('stop_sequence', 'END')
    """
    finish = choice.get("finish_reason") or "stop"
    matched = choice.get("stop_reason")
    if finish == "stop" and isinstance(matched, str) and matched in (stop_sequences or []):
        return "stop_sequence", matched
    return _STOP_REASONS.get(finish, "end_turn"), None


def _tool_use(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") or {}
    tool_id = call.get("id") or f"toolu_{uuid.uuid4().hex}"
    return {"type": "tool_use", "id": tool_id, "name": function.get("name"), "input": _tool_input(function)}


def _tool_input(function: dict[str, Any]) -> dict[str, Any]:
    """A tool call's arguments as the JSON object ``tool_use.input`` must be, or a 502."""
    try:
        parsed = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        name = function.get("name")
        raise ApiError(
            502, f"the model's arguments for tool '{name}' are not a JSON object", code="invalid_tool_arguments"
        )
    return parsed


def error_type(status: int) -> str:
    """Anthropic's error type for an HTTP ``status``.

    Example:
        >>> error_type(404), error_type(502)
        ('not_found_error', 'api_error')
    """
    return _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error object.

    Example:
        >>> error_body(401, "invalid API key")
        {'type': 'error', 'error': {'type': 'authentication_error', 'message': 'invalid API key'}}
    """
    return {"type": "error", "error": {"type": error_type(status), "message": message}}
