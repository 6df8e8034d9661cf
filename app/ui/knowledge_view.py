"""What the Knowledge page shows and does, without Streamlit: collection sizes, uploaded files
saved for ingestion, document and search-hit rows.

Uploaded files are kept under ``data/uploads/<collection>/`` (the ingested path is the
document's identity, so uploading a file again replaces its chunks instead of duplicating them).

Example:
    >>> paths = save_uploads("shop", [("faq.md", b"# FAQ")])          # doctest: +SKIP
    >>> KnowledgeBase("shop").ingest(paths).summary()                   # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.errors import KnowledgeError
from core.settings import data_dir
from knowledge import SUPPORTED_SUFFIXES, IngestReport, KnowledgeBase, SearchHit
from knowledge.store import validate_collection_name

__all__ = [
    "collection_rows",
    "document_rows",
    "hit_rows",
    "ingest_notices",
    "remove_upload",
    "save_uploads",
    "upload_dir",
    "uploader_key",
]


def upload_dir(collection: str) -> Path:
    """Where files uploaded into ``collection`` are kept."""
    return data_dir("uploads", validate_collection_name(collection))


def save_uploads(collection: str, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write uploaded ``(name, bytes)`` files for ingestion; returns their paths.

    Raises:
        KnowledgeError: a file type the loaders cannot read, or an invalid collection name.
    """
    folder = upload_dir(collection)
    paths = []
    for name, data in files:
        safe = Path(name).name  # never a path chosen by the browser
        if Path(safe).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise KnowledgeError(f"{safe}: unsupported file type; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}")
        path = folder / safe
        path.write_bytes(data)
        paths.append(path)
    return paths


def remove_upload(collection: str, source: str) -> bool:
    """Delete the uploaded copy of ``source`` if it lives in the collection's upload folder."""
    path = Path(source)
    folder = upload_dir(collection).resolve()
    if path.parent.resolve() == folder and path.exists():
        path.unlink()
        return True
    return False


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
