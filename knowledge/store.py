"""The Chroma side of the knowledge base: which client, which collection, raw reads and writes.

Embedded by default: a ``PersistentClient`` under ``data_dir("chroma")``. When ``CHROMA_HOST``
or ``CHROMA_PORT`` is set, an ``HttpClient`` talks to a Chroma server instead (``chroma run``)
— the same code, switched by configuration.

Collections are created with cosine distance and **no** Chroma embedding function: vectors
always come from :func:`models.embeddings.local_embeddings` (Chroma's default function would
try to download a model). Each collection's metadata carries a ``revision`` token that every
write changes, so readers in other processes know when their BM25 mirror is stale.

Example:
    >>> client = chroma_client()                       # doctest: +SKIP
    >>> collection = open_collection(client, "shop")    # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings

from core.errors import KnowledgeError
from core.settings import data_dir

__all__ = [
    "REVISION_KEY",
    "chroma_client",
    "collection_names",
    "current_revision",
    "drop_collection",
    "iter_records",
    "open_collection",
    "stamp_revision",
    "validate_collection_name",
]

REVISION_KEY = "modelyard_revision"
PAGE_SIZE = 2000
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


def chroma_client() -> ClientAPI:
    """The Chroma client this process should use (server if configured, else embedded)."""
    settings = Settings(anonymized_telemetry=False)
    host, port = os.environ.get("CHROMA_HOST"), os.environ.get("CHROMA_PORT")
    if host or port:
        return chromadb.HttpClient(host=host or "127.0.0.1", port=int(port or 8000), settings=settings)
    return chromadb.PersistentClient(path=str(data_dir("chroma")), settings=settings)


def validate_collection_name(name: str) -> str:
    """Return ``name`` if Chroma accepts it, else raise a :class:`KnowledgeError` saying why."""
    if not _NAME.match(name or "") or ".." in name:
        raise KnowledgeError(
            f"invalid collection name {name!r}: use 3-512 letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def open_collection(client: ClientAPI, name: str, *, create: bool = True) -> Collection:
    """Get (or create) a collection set up for our embeddings.

    Raises:
        KnowledgeError: the name is invalid, or ``create`` is false and it does not exist.
    """
    validate_collection_name(name)
    if create:
        return client.get_or_create_collection(
            name=name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={REVISION_KEY: uuid.uuid4().hex},
        )
    if name not in collection_names(client):
        raise KnowledgeError(f"no knowledge collection named {name!r}")
    return client.get_collection(name=name, embedding_function=None)


def collection_names(client: ClientAPI) -> list[str]:
    """Names of all collections, sorted."""
    return sorted(collection.name for collection in client.list_collections())


def drop_collection(client: ClientAPI, name: str) -> bool:
    """Delete a collection; returns whether it existed."""
    if name not in collection_names(client):
        return False
    client.delete_collection(name)
    return True


def stamp_revision(collection: Collection) -> None:
    """Mark the collection as changed (readers rebuild their lexical index)."""
    metadata = dict(collection.metadata or {})
    metadata[REVISION_KEY] = uuid.uuid4().hex
    collection.modify(metadata=metadata)


def current_revision(client: ClientAPI, name: str) -> str:
    """The collection's revision token as stored now (not the cached copy)."""
    metadata = client.get_collection(name=name, embedding_function=None).metadata or {}
    return str(metadata.get(REVISION_KEY, ""))


def iter_records(
    collection: Collection, include: list[str], where: dict[str, Any] | None = None
) -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """Every record as ``(id, metadata, document)``, read page by page.

    Args:
        collection: the Chroma collection.
        include: ``["metadatas"]`` or ``["metadatas", "documents"]``.
        where: an optional Chroma metadata filter.
    """
    offset = 0
    while True:
        page = collection.get(where=where, include=include, limit=PAGE_SIZE, offset=offset)  # type: ignore[arg-type]
        ids = page["ids"]
        metadatas = page.get("metadatas") or [{}] * len(ids)
        documents: list[str | None] = list(page.get("documents") or [])
        documents += [None] * (len(ids) - len(documents))
        yield from zip(ids, (dict(m or {}) for m in metadatas), documents, strict=True)
        if len(ids) < PAGE_SIZE:
            return
        offset += PAGE_SIZE
