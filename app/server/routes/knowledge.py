"""Knowledge ingestion as a background job: ``POST /api/knowledge/{collection}/documents``, ``GET /api/jobs/{id}``.

An upload answers at once (202) with a job; the files are ingested by the job queue — in this process
without ``REDIS_URL``, by ``python -m app.worker`` with it (then every worker and replica must reach
the same Chroma: ``CHROMA_HOST``) — and ``GET /api/jobs/{id}`` shows its progress (files and chunks
done of their totals), its error or its summary (:mod:`app.server.jobs.knowledge_jobs`). A large upload
holds neither the request nor the event loop. Both routes are the admin's: what the knowledge base
holds is what ``/support`` and ``/rag`` answer from.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import JSONResponse

from app.server.gateway.state import gateway
from app.server.http.auth import require_admin
from app.server.http.errors import ApiError
from app.server.jobs.knowledge_jobs import KIND
from app.server.jobs.queue import Job
from core.errors import KnowledgeError
from knowledge.store import validate_collection_name
from knowledge.uploads import check_upload_names

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["knowledge"], dependencies=[Depends(require_admin)])

OWNER = "admin"


@router.post("/knowledge/{collection}/documents", status_code=202)
async def ingest_documents(
    collection: str,
    request: Request,
    files: Annotated[list[UploadFile], File(description="Documents to ingest (Markdown, text, HTML, PDF, DOCX).")],
) -> JSONResponse:
    """Queue the ingestion of ``files`` into ``collection`` (created if new); answers the job at once."""
    try:
        validate_collection_name(collection)
        names = check_upload_names([upload.filename or "" for upload in files])
    except KnowledgeError as exc:
        raise ApiError(400, str(exc), code="invalid_upload") from None
    contents = [(name, await upload.read()) for name, upload in zip(names, files, strict=True)]
    jobs = gateway(request).jobs
    job_id = f"job_{secrets.token_hex(12)}"
    await asyncio.to_thread(jobs.jobs_db.create, job_id, OWNER, KIND, collection, contents, int(time.time()))
    await jobs.send(Job(KIND, (job_id,)))
    created = await asyncio.to_thread(jobs.jobs_db.get, job_id)
    assert created is not None
    return JSONResponse(created.view(), status_code=202, headers={"Location": f"/api/jobs/{job_id}"})


@router.get("/jobs/{job_id}")
async def get_job(job_id: str, request: Request) -> dict[str, Any]:
    """A background job: status (queued, running, completed, failed), progress, error or result."""
    found = await asyncio.to_thread(gateway(request).jobs.jobs_db.get, job_id, OWNER)
    if found is None:
        raise ApiError(404, f"job_id: no job '{job_id}'", param="job_id", code="job_not_found")
    return found.view()
