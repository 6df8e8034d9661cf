"""Uploaded files kept for ingestion, under ``data/uploads/<collection>/``.

The ingested path is a document's identity, so uploading a file again replaces its chunks instead of
duplicating them. The Knowledge page and the gateway's ingestion job (``app/server/jobs/knowledge_jobs.py``)
both save uploads here.

Example:
    >>> paths = save_uploads("shop", [("faq.md", b"# FAQ")])          # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from core.errors import KnowledgeError
from core.settings import data_dir
from knowledge.loaders import SUPPORTED_SUFFIXES
from knowledge.store import validate_collection_name

__all__ = ["check_upload_names", "remove_upload", "save_uploads", "upload_dir"]


def upload_dir(collection: str) -> Path:
    """Where files uploaded into ``collection`` are kept."""
    return data_dir("uploads", validate_collection_name(collection))


def check_upload_names(names: list[str]) -> list[str]:
    """The file names (never a path chosen by the browser) of an upload, each of a type the loaders read.

    Raises:
        KnowledgeError: a file type the loaders cannot read.

    Example:
        >>> check_upload_names(["../notes.md"])
        ['notes.md']
    """
    safe_names = []
    for name in names:
        safe = Path(name).name
        if Path(safe).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise KnowledgeError(f"{safe}: unsupported file type; use one of {', '.join(sorted(SUPPORTED_SUFFIXES))}")
        safe_names.append(safe)
    return safe_names


def save_uploads(collection: str, files: list[tuple[str, bytes]]) -> list[Path]:
    """Write uploaded ``(name, bytes)`` files for ingestion; returns their paths.

    Raises:
        KnowledgeError: a file type the loaders cannot read, or an invalid collection name.
    """
    folder = upload_dir(collection)
    paths = []
    for safe, (_, data) in zip(check_upload_names([name for name, _ in files]), files, strict=True):
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
