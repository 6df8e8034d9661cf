"""``KnowledgeBase``: the one object the UI, the server, the CLI and the chains talk to.

A knowledge base is a Chroma collection plus the machinery around it — ingestion
(:mod:`knowledge.ingest`), hybrid search (:mod:`knowledge.search`) and bookkeeping. It uses
the process-wide MiniLM embeddings and the configured Chroma client unless given others.

Example:
    >>> kb = KnowledgeBase("shop")                                  # doctest: +SKIP
    >>> kb.ingest(["docs/"], prune=True).summary()                  # doctest: +SKIP
    'shop: 3 added, 0 updated, 0 unchanged, 0 empty, 0 removed, 0 skipped; ...'
    >>> [hit.heading for hit in kb.search("refund time", k=2)]      # doctest: +SKIP
    ['Returns policy > Refunds', 'How long does a refund take?']
    >>> kb.stats()                                                  # doctest: +SKIP
    KnowledgeStats(collection='shop', documents=3, chunks=41)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from chromadb.api import ClientAPI
from langchain_core.embeddings import Embeddings

from knowledge.ingest import IngestOptions, IngestReport, ProgressCallback, ingest_paths
from knowledge.manifest import read_manifest
from knowledge.search import HybridSearcher, SearchHit, SearchMode, SearchOptions
from knowledge.store import chroma_client, collection_names, drop_collection, open_collection, stamp_revision

__all__ = ["DocumentInfo", "KnowledgeBase", "KnowledgeStats", "delete_collection", "list_collections"]


@dataclass(frozen=True)
class KnowledgeStats:
    """Size of a knowledge base."""

    collection: str
    documents: int
    chunks: int


@dataclass(frozen=True)
class DocumentInfo:
    """One ingested source file."""

    source: str
    chunks: int
    file_hash: str


def _default_embeddings() -> Embeddings:
    from models.embeddings import local_embeddings

    return local_embeddings()


class KnowledgeBase:
    """One named knowledge base (a Chroma collection).

    Args:
        collection: its name (3-512 letters, digits, ``.``, ``_``, ``-``).
        client: a Chroma client; default :func:`knowledge.store.chroma_client`.
        embeddings: the embedding model; default the shared offline MiniLM, loaded on
            first use (listing and deleting never load it).
        create: create the collection if missing; when false a missing collection raises
            :class:`core.errors.KnowledgeError`.
        ingest_options: chunking, file size limit, batch size.
        search_options: hybrid search tuning.
    """

    def __init__(
        self,
        collection: str,
        *,
        client: ClientAPI | None = None,
        embeddings: Embeddings | None = None,
        create: bool = True,
        ingest_options: IngestOptions | None = None,
        search_options: SearchOptions | None = None,
    ):
        self.client = client or chroma_client()
        self.collection = open_collection(self.client, collection, create=create)
        self.name = collection
        self._embeddings = embeddings
        self.ingest_options = ingest_options or IngestOptions()
        self.search_options = search_options or SearchOptions()
        self._searcher: HybridSearcher | None = None

    def __repr__(self) -> str:
        return f"KnowledgeBase({self.name!r})"

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model (loaded on first use)."""
        if self._embeddings is None:
            self._embeddings = _default_embeddings()
        return self._embeddings

    def ingest(
        self, paths: Iterable[str | Path], *, prune: bool = False, progress: bool | ProgressCallback = False
    ) -> IngestReport:
        """Add new and changed files under ``paths``; see :func:`knowledge.ingest.ingest_paths`."""
        return ingest_paths(
            self.collection,
            paths,
            embeddings=self.embeddings,
            options=self.ingest_options,
            prune=prune,
            progress=progress,
        )

    def search(
        self,
        query: str,
        k: int = 5,
        *,
        mode: SearchMode = "hybrid",
        mmr: bool = False,
        min_relevance: float = 0.0,
    ) -> list[SearchHit]:
        """The ``k`` best chunks for ``query``; see :meth:`knowledge.search.HybridSearcher.search`."""
        if self._searcher is None:
            self._searcher = HybridSearcher(self.client, self.name, self.embeddings, self.search_options)
        return self._searcher.search(query, k, mode=mode, mmr=mmr, min_relevance=min_relevance)

    def stats(self) -> KnowledgeStats:
        """How many source documents and chunks the knowledge base holds."""
        return KnowledgeStats(self.name, len(read_manifest(self.collection)), self.collection.count())

    def documents(self) -> list[DocumentInfo]:
        """The ingested source files, sorted by path."""
        manifest = read_manifest(self.collection)
        return [
            DocumentInfo(source, len(record.chunk_ids), next((v.file_hash for v in record.versions.values()), ""))
            for source, record in sorted(manifest.items())
        ]

    def delete_document(self, source: str | Path) -> int:
        """Remove one source file's chunks; returns how many were removed (0 if unknown).

        ``source`` is the path as ingested; a relative path is resolved first.
        """
        key = str(Path(source).expanduser().resolve())
        manifest = read_manifest(self.collection)
        record = manifest.get(key) or manifest.get(str(source))
        if record is None:
            return 0
        self.collection.delete(ids=record.chunk_ids)
        stamp_revision(self.collection)
        return len(record.chunk_ids)


def list_collections(client: ClientAPI | None = None) -> list[str]:
    """Names of all knowledge bases, sorted."""
    return collection_names(client or chroma_client())


def delete_collection(name: str, client: ClientAPI | None = None) -> bool:
    """Delete a knowledge base; returns whether it existed."""
    return drop_collection(client or chroma_client(), name)
