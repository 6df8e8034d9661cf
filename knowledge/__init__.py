"""The knowledge layer: loading, splitting, embedding and searching documents in Chroma.

The public surface is re-exported here::

    from knowledge import KnowledgeBase, list_collections, delete_collection, ensure_sample_kb

    kb = KnowledgeBase("shop")
    kb.ingest(["docs/"], prune=True, progress=True)
    hits = kb.search("How long does a refund take?", k=5)

The command line is ``python -m knowledge`` (see :mod:`knowledge.cli`).
"""

from knowledge.base import DocumentInfo, KnowledgeBase, KnowledgeStats, delete_collection, list_collections
from knowledge.ingest import IngestOptions, IngestReport, ProgressCallback, SkippedFile
from knowledge.loaders import SUPPORTED_SUFFIXES, UnreadableDocument, load_file
from knowledge.samples import SAMPLE_COLLECTION, SAMPLE_DIR, ensure_sample_kb
from knowledge.search import SearchHit, SearchMode, SearchOptions
from knowledge.splitting import SplitOptions, split_documents

__all__ = [
    "SAMPLE_COLLECTION",
    "SAMPLE_DIR",
    "SUPPORTED_SUFFIXES",
    "DocumentInfo",
    "IngestOptions",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeStats",
    "ProgressCallback",
    "SearchHit",
    "SearchMode",
    "SearchOptions",
    "SkippedFile",
    "SplitOptions",
    "UnreadableDocument",
    "delete_collection",
    "ensure_sample_kb",
    "list_collections",
    "load_file",
    "split_documents",
]
