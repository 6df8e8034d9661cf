"""The sample knowledge base that ships with Modelyard: customer service for "Yardstore".

Yardstore is a fictional online shop for garden tools and outdoor furniture, written for this
project (no third-party text): ``knowledge/samples/shop/`` holds a 30-question FAQ in English
and Chinese (``faq.jsonl``) and policy pages on shipping, returns, warranty and privacy, plus a
Chinese returns-and-shipping page.

Example:
    >>> report = ensure_sample_kb()   # doctest: +SKIP
    >>> report.summary()              # doctest: +SKIP
    'shop: 0 added, 0 updated, 6 unchanged, ...'
"""

from __future__ import annotations

from pathlib import Path

from chromadb.api import ClientAPI

from knowledge.base import KnowledgeBase
from knowledge.ingest import IngestReport, ProgressCallback

__all__ = ["SAMPLE_COLLECTION", "SAMPLE_DIR", "ensure_sample_kb"]

SAMPLE_DIR = Path(__file__).resolve().parent / "samples" / "shop"
SAMPLE_COLLECTION = "shop"


def ensure_sample_kb(
    collection: str = SAMPLE_COLLECTION,
    *,
    client: ClientAPI | None = None,
    progress: bool | ProgressCallback = False,
) -> IngestReport:
    """Ingest the Yardstore sample into ``collection`` (default ``"shop"``), idempotently.

    Safe to call on every start: when the files are unchanged it only hashes them. Files
    removed from the sample folder are pruned from the collection.
    """
    return KnowledgeBase(collection, client=client).ingest([SAMPLE_DIR], prune=True, progress=progress)
