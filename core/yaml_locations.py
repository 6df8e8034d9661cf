"""Pointing at the YAML line behind a validation error, for every config file we read.

``yaml.compose`` keeps each node's position; pydantic reports the failing field as a path
(``loc``). :func:`parse_yaml` reads both at once (a syntax error names its line),
:func:`line_of` walks one with the other; :func:`describe` turns pydantic's first error into a
sentence that says what was expected and what was found.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from core.errors import CatalogError

__all__ = ["describe", "dotted", "line_of", "parse_yaml"]


def parse_yaml(text: str, source: str, error: type[CatalogError] = CatalogError) -> tuple[yaml.Node | None, Any]:
    """``(node tree, data)`` of YAML ``text``; invalid YAML raises ``error`` naming ``source`` and the line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise error(f"invalid YAML: {exc.problem or exc.context}", source=source, line=line) from exc


def dotted(loc: tuple[Any, ...]) -> str:
    """``("models", 1, "provider")`` → ``models[1].provider``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node on ``loc`` that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child = value if not isinstance(value, yaml.ScalarNode) or value.value else key
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def describe(exc: ValidationError, unknown_field_hint: str = "", scope: str = "") -> tuple[str, tuple[Any, ...]]:
    """``(message, loc)`` for the first error: expectation, the value found, and how many more."""
    first = exc.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        message = "this field is required"
    elif first["type"] == "extra_forbidden":
        message = "unknown field" + (f" ({unknown_field_hint})" if unknown_field_hint else "")
    if "input" in first and first["type"] not in ("missing", "model_type") and not isinstance(first["input"], dict):
        message += f" (got {first['input']!r})"
    more = len(exc.errors()) - 1
    if more:
        message += f"; and {more} more problem{'s' if more > 1 else ''}{scope}"
    return message, tuple(first["loc"])
