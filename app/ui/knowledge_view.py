"""What the Knowledge page shows and does, without Streamlit: collection sizes, uploaded files
saved for ingestion, document and search-hit rows.

Uploaded files are kept under ``data/uploads/<collection>/`` by :mod:`knowledge.uploads` (re-exported
here); an ingestion runs as a background job (:mod:`app.ui.ingest_jobs`) whose progress the page polls.

Example:
    >>> paths = save_uploads("shop", [("faq.md", b"# FAQ")])          # doctest: +SKIP
    >>> KnowledgeBase("shop").ingest(paths).summary()                   # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from knowledge import IngestReport, KnowledgeBase, SearchHit
from knowledge.uploads import remove_upload, save_uploads, upload_dir
from store.jobs_db import JobRow

__all__ = [
    "collection_rows",
    "document_rows",
    "hit_rows",
    "ingest_notices",
    "job_notices",
    "job_progress",
    "remove_upload",
    "save_uploads",
    "upload_dir",
    "uploader_key",
]


def uploader_key(upload_round: int) -> str:
    """The uploader's widget key; a new one after each ingest, so the uploader starts empty."""
    return "kb_files" if upload_round == 0 else f"kb_files_{upload_round}"


def ingest_notices(report: IngestReport) -> list[tuple[str, str]]:
    """``(kind, text)`` notices for an ingest: a warning (not a success) when a file was skipped,
    and file names only — never the server's folders.

    Example:
        >>> from knowledge.ingest import SkippedFile
        >>> report = IngestReport("shop", skipped=[SkippedFile("/srv/data/uploads/shop/a.xyz", "unsupported")])
        >>> ingest_notices(report)[1]
        ('warning', 'Skipped a.xyz: unsupported')
    """
    kind = "warning" if report.skipped else "success"
    notices = [(kind, _without_folders(report.summary()))]
    notices += [("warning", f"Skipped {Path(s.path).name}: {_without_folders(s.reason)}") for s in report.skipped]
    return notices


def job_progress(job: JobRow) -> tuple[float, str]:
    """The progress bar of a running ingestion job: reading is the first fifth, embedding the rest.

    Example:
        >>> from store.jobs_db import JobRow
        >>> job = JobRow("j", "ui", "knowledge.ingest", "notes", "running", "embedding", 2, 2, 30, 120,
        ...              None, None, 0, 0, None)
        >>> job_progress(job)
        (0.4, 'Embedding: 30/120 chunks')
    """
    if job.stage == "embedding" and job.chunks_total:
        return 0.2 + 0.8 * job.chunks_done / job.chunks_total, f"Embedding: {job.chunks_done}/{job.chunks_total} chunks"
    if job.files_total:
        return 0.2 * job.files_done / job.files_total, f"Reading: {job.files_done}/{job.files_total} files"
    return 0.0, "Queued…" if job.status == "queued" else "Loading the embedding model…"


def job_notices(job: JobRow) -> list[tuple[str, str]]:
    """``(kind, text)`` notices for a finished ingestion job (see :func:`ingest_notices`)."""
    if job.error is not None or job.result is None:
        return [("error", _without_folders(job.error or "the ingestion stopped without a result"))]
    skipped = job.result.get("skipped") or []
    notices = [("warning" if skipped else "success", _without_folders(str(job.result["summary"])))]
    return notices + [("warning", f"Skipped {s['file']}: {_without_folders(s['reason'])}") for s in skipped]


def _without_folders(text: str) -> str:
    """``text`` with absolute paths cut to their file names."""
    return re.sub(r"(?:/[^\s/:'\"]+)+/([^\s/:'\"]+)", r"\1", text)


def collection_rows(names: list[str]) -> list[dict[str, Any]]:
    """Documents and chunks per collection."""
    rows = []
    for name in names:
        stats = KnowledgeBase(name, create=False).stats()
        rows.append({"collection": name, "documents": stats.documents, "chunks": stats.chunks})
    return rows


def document_rows(kb: KnowledgeBase) -> list[dict[str, Any]]:
    """One row per ingested source file."""
    return [
        {
            "file": Path(doc.source).name,
            "chunks": doc.chunks,
            "folder": str(Path(doc.source).parent),
            "version": doc.file_hash[:12],
            "source": doc.source,
        }
        for doc in kb.documents()
    ]


def hit_rows(hits: list[SearchHit], snippet_chars: int = 300) -> list[dict[str, Any]]:
    """Search hits as table rows, best first: relevance (what the chat's threshold reads), cosine and BM25.

    The fused score that ordered them is a sum of z-scores (negative for below-average candidates),
    meaningful only as an order, so the rank stands for it.
    """
    rows = []
    for rank, hit in enumerate(hits, start=1):
        text = " ".join(hit.text.split())
        rows.append(
            {
                "rank": rank,
                "relevance": round(hit.score, 3),
                "cosine": None if hit.dense_score is None else round(hit.dense_score, 3),
                "BM25": None if hit.lexical_score is None else round(hit.lexical_score, 2),
                "file": Path(hit.source).name,
                "heading": hit.heading,
                "text": text if len(text) <= snippet_chars else text[:snippet_chars] + "…",
            }
        )
    return rows
