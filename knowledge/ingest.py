"""Ingestion: files on disk → chunks with embeddings in a Chroma collection, idempotently.

One run:

1. **Discover** the files under the given paths (hidden files and unsupported types in folders
   are ignored; a named file of an unsupported type is reported as skipped).
2. **Compare** each file's version — its SHA-256 together with the splitting rules and sizes —
   with the collection's manifest (:mod:`knowledge.manifest`): unchanged files cost one hash
   and nothing else; after a change of the splitting rules every file is re-split once.
3. **Read and split** new and changed files. A file that cannot be read is skipped with a
   warning naming it and the reason; the rest go on. Empty files, and files with no text,
   leave no chunks (and remove the chunks of their previous version).
4. **Embed and write** the chunks in batches (a progress bar, or a callback for a UI), with
   deterministic ids; once all chunks of a file are in, its older versions are deleted.
5. **Prune** (optional): chunks of files that were under the given paths but are gone.

Interrupting a run at any point leaves every file either at its old version, at its new one,
or with an incomplete new version next to the old one, which the next run completes and
cleans up. Readers are told about changes through the collection's revision token.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chromadb.api.models.Collection import Collection
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from knowledge.loaders import SUPPORTED_SUFFIXES, UnreadableDocument, load_file
from knowledge.manifest import DocumentRecord, chunk_id, read_manifest, version_key
from knowledge.splitting import SplitOptions, embedding_text, split_documents
from knowledge.store import stamp_revision

__all__ = [
    "IngestOptions",
    "IngestReport",
    "ProgressCallback",
    "SkippedFile",
    "discover_files",
    "ingest_paths",
]

logger = logging.getLogger("knowledge.ingest")

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``; ``stage`` is ``"reading"`` or ``"embedding"``."""


@dataclass(frozen=True)
class IngestOptions:
    """Settings for an ingestion run."""

    split: SplitOptions = field(default_factory=SplitOptions)
    """Chunk size and overlap."""
    max_file_bytes: int = 50 * 1024 * 1024
    """Files larger than this are skipped (with a warning) instead of read into memory."""
    batch_size: int = 64
    """Chunks embedded and written per batch."""


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not ingested, and why."""

    path: str
    reason: str


@dataclass
class IngestReport:
    """What an ingestion run did. Paths are the resolved source paths."""

    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    chunks_written: int = 0
    chunks_removed: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        """Whether the collection was modified."""
        return bool(self.chunks_written or self.chunks_removed)

    def summary(self) -> str:
        """One line for people: counts of each outcome."""
        return (
            f"{self.collection}: {len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.empty)} empty, {len(self.removed)} removed, "
            f"{len(self.skipped)} skipped; {self.chunks_written} chunks written, "
            f"{self.chunks_removed} removed in {self.seconds:.1f}s"
        )


@dataclass
class _PendingFile:
    """A new or changed file, read and split, waiting to be written."""

    source: str
    version: str
    chunks: list[Document]
    previous: DocumentRecord | None


class _Progress:
    """A tqdm bar on stderr, a caller's callback, or nothing."""

    def __init__(self, progress: bool | ProgressCallback):
        self._progress = progress
        self._bar: Any = None
        self._stage, self._done, self._total = "", 0, 0

    def start(self, stage: str, total: int) -> None:
        self.close()
        self._stage, self._done, self._total = stage, 0, total
        if self._progress is True and total:
            from tqdm import tqdm

            unit = "file" if stage == "reading" else "chunk"
            self._bar = tqdm(total=total, desc=stage.capitalize(), unit=unit, file=sys.stderr)
        self._report()

    def advance(self, count: int = 1) -> None:
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
        self._report()

    def _report(self) -> None:
        if callable(self._progress):
            self._progress(self._stage, self._done, self._total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def discover_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[SkippedFile]]:
    """Expand files and folders into the supported files under them.

    Returns:
        The files (resolved, sorted, without duplicates) and the named paths that were skipped.
    """
    found: set[Path] = set()
    skipped: list[SkippedFile] = []
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            found.update(_walk(path))
        elif path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.add(path)
        elif path.is_file():
            skipped.append(SkippedFile(str(path), f"unsupported file type '{path.suffix or '(none)'}'"))
        else:
            skipped.append(SkippedFile(str(path), "no such file or folder"))
    return sorted(found), skipped


def _walk(root: Path) -> Iterable[Path]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_SUFFIXES:
                yield Path(folder) / name


def _is_under(source: str, roots: list[Path]) -> bool:
    return any(source == str(root) or source.startswith(str(root) + os.sep) for root in roots)


def ingest_paths(
    collection: Collection,
    paths: Iterable[str | Path],
    *,
    embeddings: Embeddings,
    options: IngestOptions | None = None,
    prune: bool = False,
    progress: bool | ProgressCallback = False,
) -> IngestReport:
    """Bring a collection up to date with the files under ``paths``.

    Args:
        collection: the Chroma collection (see :func:`knowledge.store.open_collection`).
        paths: files and folders to ingest.
        embeddings: the embedding model (normally ``local_embeddings()``).
        options: chunking, size limit and batch size.
        prune: also remove chunks of files under ``paths`` that no longer exist.
        progress: ``True`` for a tqdm bar on stderr, or a :data:`ProgressCallback`.

    Returns:
        An :class:`IngestReport`. Skipped files are also logged as warnings.
    """
    options = options or IngestOptions()
    started = time.perf_counter()
    paths = list(paths)
    report = IngestReport(collection=collection.name)
    files, report.skipped = discover_files(paths)
    for skipped in report.skipped:
        logger.warning("Skipped %s: %s", skipped.path, skipped.reason)
    manifest = read_manifest(collection)
    bar = _Progress(progress)
    try:
        pending = _read_files(collection, files, manifest, options, report, bar)
        _write_chunks(collection, pending, embeddings, options.batch_size, report, bar)
        if prune:
            roots = [Path(p).expanduser().resolve() for p in paths]
            _prune(collection, manifest, roots, {str(f) for f in files}, report)
    finally:
        bar.close()
        if report.changed:
            stamp_revision(collection)
        report.seconds = time.perf_counter() - started
    return report


def _read_files(
    collection: Collection,
    files: list[Path],
    manifest: dict[str, DocumentRecord],
    options: IngestOptions,
    report: IngestReport,
    bar: _Progress,
) -> list[_PendingFile]:
    """Hash every file; read and split the new and changed ones."""
    pending: list[_PendingFile] = []
    bar.start("reading", len(files))
    for path in files:
        source, previous = str(path), manifest.get(str(path))
        try:
            item = _read_one(path, previous, options)
        except UnreadableDocument as error:
            report.skipped.append(SkippedFile(source, error.reason))
            logger.warning("Skipped %s: %s", source, error.reason)
        else:
            if item is None:
                report.unchanged.append(source)
            elif not item.chunks:
                report.empty.append(source)
                logger.warning("No text in %s: nothing indexed for it", source)
                _delete(collection, previous.chunk_ids if previous else [], report)
            else:
                pending.append(item)
        bar.advance()
    return pending


def _read_one(path: Path, previous: DocumentRecord | None, options: IngestOptions) -> _PendingFile | None:
    """Load and split one file; ``None`` when the stored version is already current."""
    try:
        size = path.stat().st_size
        if size > options.max_file_bytes:
            limit = options.max_file_bytes / 1024 / 1024
            raise UnreadableDocument(path, f"too large ({size / 1024 / 1024:.1f} MB; the limit is {limit:.1f} MB)")
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableDocument(path, f"cannot read ({error.strerror or error})") from error
    file_hash = hashlib.sha256(data).hexdigest()
    version = version_key(file_hash, options.split.signature())
    if previous is not None and previous.is_current(version):
        return None
    chunks = split_documents(load_file(path, data), options.split) if data.strip() else []
    for chunk in chunks:
        chunk.metadata.update(source=str(path), file=path.name, file_hash=file_hash, version=version)
    return _PendingFile(str(path), version, chunks, previous)


def _write_chunks(
    collection: Collection,
    pending: list[_PendingFile],
    embeddings: Embeddings,
    batch_size: int,
    report: IngestReport,
    bar: _Progress,
) -> None:
    """Embed and upsert all pending chunks; retire a file's old versions once it is complete."""
    queue = [(item, chunk) for item in pending for chunk in item.chunks]
    bar.start("embedding", len(queue))
    for start in range(0, len(queue), batch_size):
        batch = queue[start : start + batch_size]
        vectors = embeddings.embed_documents([embedding_text(chunk) for _, chunk in batch])
        collection.upsert(
            ids=[chunk_id(item.source, item.version, chunk.metadata["chunk_index"]) for item, chunk in batch],
            embeddings=vectors,  # type: ignore[arg-type]
            documents=[chunk.page_content for _, chunk in batch],
            metadatas=[_clean_metadata(chunk.metadata) for _, chunk in batch],
        )
        report.chunks_written += len(batch)
        for item, chunk in batch:
            if chunk.metadata["chunk_index"] == len(item.chunks) - 1:
                _finish_file(collection, item, report)
        bar.advance(len(batch))


def _finish_file(collection: Collection, item: _PendingFile, report: IngestReport) -> None:
    """All chunks of ``item`` are written: delete its other versions and record the outcome."""
    previous = item.previous
    _delete(collection, previous.stale_ids(item.version) if previous else [], report)
    had_version = previous is not None and any(key != item.version for key in previous.versions)
    (report.updated if had_version else report.added).append(item.source)


def _prune(
    collection: Collection,
    manifest: dict[str, DocumentRecord],
    roots: list[Path],
    present: set[str],
    report: IngestReport,
) -> None:
    """Delete documents that were under ``roots`` but are no longer on disk."""
    for source, record in manifest.items():
        if source not in present and _is_under(source, roots) and not Path(source).exists():
            _delete(collection, record.chunk_ids, report)
            report.removed.append(source)


def _delete(collection: Collection, ids: list[str], report: IngestReport) -> None:
    if ids:
        collection.delete(ids=ids)
        report.chunks_removed += len(ids)


def _clean_metadata(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Chroma accepts only scalar, non-null metadata values."""
    return {key: value for key, value in metadata.items() if isinstance(value, str | int | float | bool)}
