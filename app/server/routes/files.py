"""OpenAI's Files API, for batches: ``POST /v1/files``, ``GET /v1/files[/{id}[/content]]``, ``DELETE``.

An upload (multipart, ``purpose=batch``) is checked line by line before it is stored
(:func:`app.server.dialects.batch.parse_input`, in a worker thread): a bad file is refused with a 400
naming the line and the field, so a batch never starts on a file that cannot run. Output and error
files of a batch are stored here too (``purpose=batch_output``). Files are owned by the API key that
uploaded them (or whose batch wrote them); another key's file is a 404 like an unknown one.

These routes check the key but do not spend its limits (``auth.KnownKey``): uploading and polling
cost no model time, and a key whose budget ran out mid-batch must still read its error file. The
lines themselves are admitted, limited and charged like live calls.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response

from app.server.dialects.batch import BatchInputError, file_object, page, parse_input
from app.server.gateway.keys import ApiKey
from app.server.gateway.state import gateway
from app.server.http.auth import KnownKey, require_known_key
from app.server.http.errors import ApiError

__all__ = ["input_error", "not_found", "owner_of", "router"]

router = APIRouter(prefix="/v1", tags=["batch"], dependencies=[Depends(require_known_key)])

_FORM_FIELDS = {"file", "purpose", "expires_after[anchor]", "expires_after[seconds]"}


def owner_of(key: ApiKey | None) -> str:
    """The owner id files and batches are kept under: the key's id, ``""`` for the master key or an open server."""
    return key.id if key is not None else ""


def not_found(kind: str, object_id: str, param: str) -> ApiError:
    return ApiError(
        404,
        f"{param}: no {kind} '{object_id}' for this API key (it does not exist, expired, was deleted, or belongs "
        "to another key)",
        param=param,
        code=f"{kind}_not_found",
    )


def input_error(exc: BatchInputError) -> ApiError:
    """The 400 for a bad input line: the message names the line and the field; ``line`` is in the body too."""
    return ApiError(400, str(exc), param=exc.param, code="invalid_batch_input", extra={"line": exc.line})


@router.post("/files")
async def create_file(
    request: Request,
    key: KnownKey,
    file: Annotated[UploadFile, File(description="The JSONL file of batch requests.")],
    purpose: Annotated[str, Form(description="Must be `batch`.")],
    expires_anchor: Annotated[str | None, Form(alias="expires_after[anchor]")] = None,
    expires_seconds: Annotated[int | None, Form(alias="expires_after[seconds]")] = None,
) -> dict[str, Any]:
    """Upload a batch input file (JSONL of ``{custom_id, method, url, body}``), checked line by line."""
    unknown = sorted(set((await request.form()).keys()) - _FORM_FIELDS)
    if unknown:
        raise ApiError(400, f"{unknown[0]}: unknown form field; send file and purpose", param=unknown[0])
    if purpose != "batch":
        raise ApiError(
            400,
            f"purpose: only 'batch' files are accepted here (got {purpose!r})",
            param="purpose",
            code="invalid_purpose",
        )
    now = int(time.time())
    expires_at = _expiry(now, expires_anchor, expires_seconds)
    settings = gateway(request).settings.jobs
    content = await file.read()
    try:
        parsed = await asyncio.to_thread(lambda: list(parse_input(content, settings.max_lines)))
    except BatchInputError as exc:
        raise input_error(exc) from None
    urls: dict[str, int] = {}
    for line in parsed:
        urls.setdefault(line.request["url"], line.line_no)
    file_id = f"file-{secrets.token_hex(12)}"
    db = gateway(request).jobs.db
    name = file.filename or "input.jsonl"
    await asyncio.to_thread(db.put_file, file_id, owner_of(key), "batch", name, content, now, urls, expires_at)
    stored = await asyncio.to_thread(db.get_file, owner_of(key), file_id)
    assert stored is not None
    return file_object(stored)


def _expiry(now: int, anchor: str | None, seconds: int | None) -> int:
    """``expires_at`` from ``expires_after`` (30 days after upload by default, as OpenAI's batch files)."""
    if anchor is None and seconds is None:
        return now + 30 * 86_400
    if anchor != "created_at":
        raise ApiError(400, "expires_after[anchor]: must be 'created_at'", param="expires_after[anchor]")
    if seconds is None or not 3600 <= seconds <= 2_592_000:
        raise ApiError(
            400,
            "expires_after[seconds]: give 3600 to 2592000 seconds (1 hour to 30 days)",
            param="expires_after[seconds]",
        )
    return now + seconds


@router.get("/files")
async def list_files(
    request: Request,
    key: KnownKey,
    purpose: str | None = None,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=10_000),
) -> dict[str, Any]:
    """This key's files, newest first (``after``: the last id of the previous page)."""
    db = gateway(request).jobs.db
    rows = await asyncio.to_thread(db.list_files, owner_of(key), purpose, after, limit + 1, int(time.time()))
    data = [file_object(row) for row in rows[:limit]]
    return page(data, has_more=len(rows) > limit)


@router.get("/files/{file_id}")
async def get_file(file_id: str, request: Request, key: KnownKey) -> dict[str, Any]:
    """A file of this key (without its content)."""
    row = await asyncio.to_thread(gateway(request).jobs.db.get_file, owner_of(key), file_id, int(time.time()))
    if row is None:
        raise not_found("file", file_id, "file_id")
    return file_object(row)


@router.get("/files/{file_id}/content")
async def file_content(file_id: str, request: Request, key: KnownKey) -> Response:
    """The bytes of a file of this key: an input file as uploaded, or a batch's output or error file."""
    db = gateway(request).jobs.db
    content = await asyncio.to_thread(db.file_content, owner_of(key), file_id, int(time.time()))
    if content is None:
        raise not_found("file", file_id, "file_id")
    return Response(content, media_type="application/octet-stream")


@router.delete("/files/{file_id}")
async def delete_file(file_id: str, request: Request, key: KnownKey) -> dict[str, Any]:
    """Remove a file of this key (a batch already started keeps its lines)."""
    if not await asyncio.to_thread(gateway(request).jobs.db.delete_file, owner_of(key), file_id):
        raise not_found("file", file_id, "file_id")
    return {"id": file_id, "object": "file", "deleted": True}
