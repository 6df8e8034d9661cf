"""What the fake upstream answers, decided from the request itself.

A provider that honours ``tools`` calls one of the declared tools with arguments that fit its
JSON schema; one that honours ``response_format`` answers JSON that fits the schema; ``stop``
cuts the text, ``n`` gives several choices, ``logprobs`` adds them. So a field the gateway drops
on the way changes the answer, and the test that sent it fails.

Example:
    >>> tool = {"type": "function", "function": {"name": "order_status", "description": "Status of an order",
    ...         "parameters": {"type": "object", "properties": {"order_id": {"type": "integer"}},
    ...                        "required": ["order_id"]}}}
    >>> call = tool_call_for({"tools": [tool], "messages": [{"role": "user", "content": "Where is order 1042?"}]})
    >>> call["function"]["name"], call["function"]["arguments"]
    ('order_status', '{"order_id": 1042}')
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["cut_at_stop", "json_answer", "last_user_text", "tool_call_for", "tool_result_answer", "value_for"]

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def text_of(message: dict[str, Any]) -> str:
    """The text of an OpenAI message (string content or text parts)."""
    content = message.get("content") or ""
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return text_of(users[-1]) if users else ""


def value_for(schema: dict[str, Any], text: str, name: str = "") -> Any:
    """A value that fits ``schema``, taken from ``text`` where the schema lets it (numbers, ids)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return value_for(options[0], text, name)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    numbers = _NUMBER.findall(text)
    if kind == "integer":
        return int(float(numbers[0])) if numbers else 1
    if kind == "number":
        return float(numbers[0]) if numbers else 1.0
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        return [value_for(schema.get("items", {}), text, name)]
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {key: value_for(sub, text, key) for key, sub in properties.items()}
    if numbers and re.search(r"id|number|order", name, re.I):
        return numbers[0]
    return text or name


def _tools_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t["function"] for t in body.get("tools") or [] if t.get("type") == "function" and "function" in t]


def tool_call_for(body: dict[str, Any], index: int = 0) -> dict[str, Any] | None:
    """The tool call an honest model makes for ``body``, or ``None`` when it should answer in text.

    It calls a tool when tools are declared, ``tool_choice`` is not ``none`` and the conversation
    does not end in a tool result: the forced tool, else the one whose name and description share
    most words with the last user message (the first on a tie).
    """
    tools = _tools_of(body)
    choice = body.get("tool_choice", "auto")
    messages = body.get("messages", [])
    if not tools or choice == "none" or (messages and messages[-1].get("role") == "tool"):
        return None
    text = last_user_text(body)
    if isinstance(choice, dict):
        forced = choice.get("function", {}).get("name")
        tool = next(t for t in tools if t["name"] == forced)
    else:
        words = set(re.findall(r"\w+", text.lower()))

        def overlap(tool: dict[str, Any]) -> int:
            described = f"{tool['name'].replace('_', ' ')} {tool.get('description', '')}".lower()
            return len(words & set(re.findall(r"\w+", described)))

        tool = max(tools, key=overlap)
    arguments = value_for(tool.get("parameters") or {"type": "object"}, text)
    return {
        "id": f"call_{index}_{tool['name']}",
        "type": "function",
        "function": {"name": tool["name"], "arguments": json.dumps(arguments)},
    }


def tool_result_answer(body: dict[str, Any]) -> str | None:
    """After tool results, the answer quotes them: ``"<tool name> said: <result>"``."""
    messages = body.get("messages", [])
    if not messages or messages[-1].get("role") != "tool":
        return None
    names = {
        call["id"]: call["function"]["name"]
        for m in messages
        if m.get("role") == "assistant"
        for call in m.get("tool_calls") or []
    }
    results = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.append(f"{names.get(message.get('tool_call_id'), 'tool')} said: {text_of(message)}")
    return "; ".join(reversed(results))


def json_answer(body: dict[str, Any]) -> str | None:
    """JSON text that fits ``response_format`` (json_schema or json_object), else ``None``."""
    fmt = body.get("response_format") or {}
    text = last_user_text(body)
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
        return json.dumps(value_for(schema, text))
    if fmt.get("type") == "json_object":
        return json.dumps({"answer": text})
    return None


def cut_at_stop(text: str, stop: str | list[str] | None) -> tuple[str, bool]:
    """``text`` cut before the first stop sequence, and whether one was found."""
    sequences = [stop] if isinstance(stop, str) else list(stop or [])
    cuts = [text.index(s) for s in sequences if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)
