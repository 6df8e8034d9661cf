"""What a collection already holds, per source file — read from the chunks themselves.

The manifest is not a separate file that could drift from the store: every chunk carries its
``source``, the ``file_hash`` of the file version it came from and that version's
``chunk_count``. Grouping the chunks gives, per source, the versions present and whether each
is complete. That is what makes ingestion idempotent and safe to interrupt:

* unchanged file → its hash is present, complete, and alone → nothing to do;
* changed file → the new version is written, then the other versions are deleted;
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

__all__ = ["DocumentRecord", "FileVersion", "chunk_id", "read_manifest"]


def chunk_id(source: str, file_hash: str, index: int) -> str:
    """The deterministic id of chunk ``index`` of one version of one source file."""
    source_key = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
    return f"{source_key}-{file_hash[:16]}-{index:05d}"


@dataclass
class FileVersion:
    """The chunks of one version (file hash) of a source that are in the store."""

    expected: int
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

    def is_current(self, file_hash: str) -> bool:
        """True when exactly this version is stored, completely, and nothing else."""
        version = self.versions.get(file_hash)
        return version is not None and version.complete and len(self.versions) == 1

    @property
    def chunk_ids(self) -> list[str]:
        """Ids of every chunk of every version of this source."""
        return [chunk for version in self.versions.values() for chunk in version.ids]

    def stale_ids(self, keep_hash: str) -> list[str]:
        """Ids of chunks that belong to versions other than ``keep_hash``."""
        return [c for h, v in self.versions.items() if h != keep_hash for c in v.ids]


def read_manifest(collection: Collection) -> dict[str, DocumentRecord]:
    """Group a collection's chunks by source and file version."""
    records: dict[str, DocumentRecord] = {}
    for record_id, metadata, _ in iter_records(collection, include=["metadatas"]):
        source = str(metadata.get("source", ""))
        file_hash = str(metadata.get("file_hash", ""))
        record = records.setdefault(source, DocumentRecord(source))
        version = record.versions.setdefault(file_hash, FileVersion(int(metadata.get("chunk_count", 0))))
        version.ids.append(record_id)
    return records
