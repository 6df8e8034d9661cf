"""What a collection already holds, per source file — read from the chunks themselves.

The manifest is not a separate file that could drift from the store: every chunk carries its
``source``, the ``version`` it came from — a fingerprint of the file's bytes *and* of the rules
and sizes it was split with (:func:`version_key`), so a file re-split under new rules is a new
version — and that version's ``chunk_count``. Grouping the chunks gives, per source, the
versions present and whether each is complete. That is what makes ingestion idempotent and safe to interrupt:

* unchanged file → its hash is present, complete, and alone → nothing to do;
* changed file, or changed splitting rules → the new version is written, then the other
  versions are deleted (chunks written before versions existed count as versions of their
  ``file_hash``, so they are replaced on the next run);
* interrupted run → a version with fewer chunks than ``chunk_count`` is incomplete, so the
  next run writes it again (chunk ids are deterministic, so nothing is duplicated).

Example:
    >>> manifest = read_manifest(collection)          # doctest: +SKIP
    >>> manifest["/docs/faq.md"].is_current("ab12…")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from chromadb.api.models.Collection import Collection

from knowledge.store import iter_records

__all__ = ["DocumentRecord", "FileVersion", "chunk_id", "read_manifest", "version_key"]


def version_key(file_hash: str, splitting: str) -> str:
    """The key of one stored version of a file: its SHA-256 and the splitting it went through.

    Example:
        >>> version_key("ab" * 32, "splitter=2;size=800;overlap=120") == version_key("ab" * 32, "splitter=2")
        False
    """
    return hashlib.sha256(f"{file_hash}|{splitting}".encode()).hexdigest()


def chunk_id(source: str, version: str, index: int) -> str:
    """The deterministic id of chunk ``index`` of one version (:func:`version_key`) of one source file."""
    source_key = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
    return f"{source_key}-{version[:16]}-{index:05d}"


@dataclass
class FileVersion:
    """The chunks of one version (file hash) of a source that are in the store."""

    expected: int
    file_hash: str = ""
    """SHA-256 of the file's bytes this version was split from."""
    ids: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every chunk of this version was written."""
        return len(self.ids) >= self.expected


@dataclass
class DocumentRecord:
    """One source file as the store knows it."""

    source: str
    versions: dict[str, FileVersion] = field(default_factory=dict)

    def is_current(self, key: str) -> bool:
        """True when exactly this version is stored, completely, and nothing else."""
        version = self.versions.get(key)
        return version is not None and version.complete and len(self.versions) == 1

    @property
    def chunk_ids(self) -> list[str]:
        """Ids of every chunk of every version of this source."""
        return [chunk for version in self.versions.values() for chunk in version.ids]

    def stale_ids(self, keep: str) -> list[str]:
        """Ids of chunks that belong to versions other than ``keep``."""
        return [c for key, v in self.versions.items() if key != keep for c in v.ids]


def read_manifest(collection: Collection) -> dict[str, DocumentRecord]:
    """Group a collection's chunks by source and file version."""
    records: dict[str, DocumentRecord] = {}
    for record_id, metadata, _ in iter_records(collection, include=["metadatas"]):
        source = str(metadata.get("source", ""))
        file_hash = str(metadata.get("file_hash", ""))
        key = str(metadata.get("version") or file_hash)
        record = records.setdefault(source, DocumentRecord(source))
        version = record.versions.setdefault(key, FileVersion(int(metadata.get("chunk_count", 0)), file_hash))
        version.ids.append(record_id)
    return records
