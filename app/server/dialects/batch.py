"""OpenAI's Batch API shapes: the input file's lines, and the File, Batch and output-line objects.

Pure translations, no I/O. An input file is JSONL, one request per line::

    {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

:func:`parse_input` checks every line when the file is uploaded — JSON object, ``custom_id`` a
non-empty string not used by an earlier line, ``method`` ``POST``, ``url`` one of
:data:`ENDPOINTS`, ``body`` valid for that endpoint and not streamed — and refuses the file at the
first bad line with a :class:`BatchInputError` naming the line number (1-based, as an editor shows
it) and the field, so a person can fix the file. A line's ``body`` is checked with the endpoint's
own request schema, so what passes here is what the live route accepts; a model that does not
exist is not a file error, it is that line's 404 in the error file (as OpenAI does).

:data:`ENDPOINTS` is the registry of what a batch may call: each is served by posting the line to
the gateway's own route (``app/server/jobs/batch_jobs.py``), so adding one is one entry here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from app.server.dialects.responses import ResponsesRequest
from app.server.http.schemas import ChatCompletionRequest, EmbeddingRequest
from core.errors import RequestError
from store.batches_db import BatchRow, Counts, FileRow

__all__ = [
    "ENDPOINTS",
    "BatchInputError",
    "InputLine",
    "batch_object",
    "file_object",
    "output_line",
    "page",
    "parse_input",
]

ENDPOINTS: dict[str, type[BaseModel]] = {
    "/v1/chat/completions": ChatCompletionRequest,
    "/v1/responses": ResponsesRequest,
    "/v1/embeddings": EmbeddingRequest,
}
"""The endpoints a batch may call, each with the request schema its lines' ``body`` must fit."""

_FIELDS = ("custom_id", "method", "url", "body")


class BatchInputError(RequestError):
    """A batch input file or batch request that cannot be run; ``line`` is the 1-based line at fault.

    Example:
        >>> BatchInputError("custom_id: required", line=3, param="custom_id").line
        3
    """

    def __init__(self, message: str, *, line: int | None = None, param: str | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message, param=param)


@dataclass(frozen=True)
class InputLine:
    """One checked request line."""

    line_no: int
    custom_id: str
    request: dict[str, Any]
    """``method``, ``url`` and ``body`` as given."""


def parse_input(content: bytes, max_lines: int) -> Iterator[InputLine]:
    """The request lines of a batch input file, each checked (see the module docstring); blank lines
    are skipped. Raises :class:`BatchInputError` at the first bad line.

    Example:
        >>> body = b'"body": {"model": "m", "input": "x"}}'
        >>> line = b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", ' + body
        >>> [(one.line_no, one.custom_id) for one in parse_input(line + b"\\n", 10)]
        [(1, 'a')]
        >>> list(parse_input(line + b"\\n" + line, 10))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        app.server.dialects.batch.BatchInputError: line 2: custom_id: 'a' is already used by line 1; ...
    """
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BatchInputError(f"the file is not UTF-8 text (byte {exc.start}); upload JSONL", param="file") from None
    seen: dict[str, int] = {}
    count = 0
    for line_no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        count += 1
        if count > max_lines:
            raise BatchInputError(
                f"the file has more than {max_lines} requests; split it into several batches", line=line_no
            )
        line = _check_line(raw, line_no)
        custom_id = line["custom_id"]
        if custom_id in seen:
            raise BatchInputError(
                f"custom_id: {custom_id!r} is already used by line {seen[custom_id]}; every request needs its own "
                "custom_id",
                line=line_no,
                param="custom_id",
            )
        seen[custom_id] = line_no
        yield InputLine(line_no, custom_id, {name: line[name] for name in ("method", "url", "body")})
    if not count:
        raise BatchInputError("the file holds no request lines; put one JSON request per line", param="file")


def _check_line(raw: str, line_no: int) -> dict[str, Any]:
    try:
        line = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"not valid JSON ({exc.msg} at column {exc.colno})", line=line_no) from None
    if not isinstance(line, dict):
        raise BatchInputError("each line must be a JSON object with custom_id, method, url and body", line=line_no)
    for name in _FIELDS:
        if name not in line:
            raise BatchInputError(f"{name}: field required", line=line_no, param=name)
    unknown = sorted(set(line) - set(_FIELDS))
    if unknown:
        raise BatchInputError(f"{unknown[0]}: unknown field; a line has only {', '.join(_FIELDS)}", line=line_no)
    if not isinstance(line["custom_id"], str) or not line["custom_id"]:
        raise BatchInputError("custom_id: must be a non-empty string", line=line_no, param="custom_id")
    if line["method"] != "POST":
        raise BatchInputError(f"method: must be POST (got {line['method']!r})", line=line_no, param="method")
    schema = ENDPOINTS.get(line["url"])
    if schema is None:
        raise BatchInputError(
            f"url: {line['url']!r} cannot be batched; use one of {', '.join(ENDPOINTS)}", line=line_no, param="url"
        )
    body = line["body"]
    if not isinstance(body, dict):
        raise BatchInputError("body: must be a JSON object (the request body)", line=line_no, param="body")
    if body.get("stream"):
        raise BatchInputError(
            "body.stream: batch requests cannot be streamed; leave it out", line=line_no, param="body.stream"
        )
    try:
        schema.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["body", *(str(part) for part in first["loc"])])
        message = "field required" if first["type"] == "missing" else first["msg"]
        raise BatchInputError(f"{field}: {message}", line=line_no, param=field) from None
    return line


# ---- objects ------------------------------------------------------------------------------------
def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """OpenAI's cursor page around ``data`` (``after`` = its ``last_id`` fetches the next one).

    Example:
        >>> page([{"id": "file-1"}, {"id": "file-2"}], has_more=True)["last_id"]
        'file-2'
    """
    return {
        "object": "list",
        "data": data,
        "has_more": has_more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def file_object(row: FileRow) -> dict[str, Any]:
    """OpenAI's File object (``openai.types.FileObject``)."""
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
        "status_details": None,
    }


def batch_object(row: BatchRow, counts: Counts) -> dict[str, Any]:
    """OpenAI's Batch object (``openai.types.Batch``) for ``row`` and its lines' ``counts``."""
    errors = {"object": "list", "data": row.errors} if row.errors else None
    usage = {
        "input_tokens": counts.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": counts.output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": counts.input_tokens + counts.output_tokens,
    }
    return {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": row.status,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        **row.times,
        "output_file_id": row.output_file_id,
        "error_file_id": row.error_file_id,
        "errors": errors,
        "metadata": row.metadata,
        "request_counts": {"total": counts.total, "completed": counts.succeeded, "failed": counts.failed},
        "usage": usage,
    }


def output_line(
    line_id: str, custom_id: str, status: int | None, request_id: str, body: Any, error: dict[str, Any] | None
) -> dict[str, Any]:
    """One line of an output or error file (``{id, custom_id, response, error}``): ``response`` holds the
    route's answer (``status_code``, ``request_id``, ``body``), ``None`` when no request was made;
    ``error`` (``code``, ``message``) is set for every line that did not succeed."""
    response = None if status is None else {"status_code": status, "request_id": request_id, "body": body}
    return {"id": line_id, "custom_id": custom_id, "response": response, "error": error}
