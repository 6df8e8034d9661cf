"""Cutting loaded documents into chunks small enough to embed and to quote.

Markdown-structured text (Markdown, and HTML/DOCX, whose loaders emit ``#`` headings) is first
cut at headings with LangChain's ``MarkdownHeaderTextSplitter``, so a chunk never straddles
two sections and knows its heading path (``"Returns > Refunds"``) — the heading lines move
into that metadata, and :func:`embedding_text` puts the path back in front of every chunk of
the section when it is embedded or indexed for BM25; long sections, plain text
and PDF pages are then cut by ``RecursiveCharacterTextSplitter`` at paragraph, line and
sentence boundaries (Chinese sentence punctuation included). FAQ rows stay one chunk each.

Every chunk gets ``heading``, ``chunk_index``, ``chunk_count`` and ``content_hash`` metadata.
The defaults (800 characters, 120 overlap) keep a chunk under the 256-token window of the
MiniLM embedding model for English text.

Example:
    >>> from langchain_core.documents import Document
    >>> doc = Document(page_content="# Returns\\n\\n## Refunds\\n\\nWithin 14 days.",
    ...                metadata={"title": "Returns", "doc_type": "markdown"})
    >>> [c.metadata["heading"] for c in split_documents([doc])]
    ['Returns > Refunds']
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

__all__ = ["SplitOptions", "content_hash", "embedding_text", "split_documents"]

HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3"), ("####", "h4")]
STRUCTURED_TYPES = frozenset({"markdown", "html", "docx"})
SEPARATORS = ["\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ", ""]


@dataclass(frozen=True)
class SplitOptions:
    """How documents are cut into chunks."""

    chunk_size: int = 800
    """Largest chunk, in characters."""
    chunk_overlap: int = 120
    """Characters repeated between neighbouring chunks of one section."""


def content_hash(text: str) -> str:
    """A short, stable fingerprint of a chunk's text (SHA-256, 16 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def embedding_text(chunk: Document) -> str:
    """The text to embed for a chunk: its heading (or title) in front, unless already there.

    A chunk from the middle of a long section has lost its heading line; putting it back
    gives the embedding the context a reader would have.
    """
    context = chunk.metadata.get("heading") or chunk.metadata.get("title") or ""
    if context and context.split(" > ")[-1] not in chunk.page_content[:300]:
        return f"{context}\n{chunk.page_content}"
    return chunk.page_content


def _sections(document: Document) -> list[Document]:
    """Cut a Markdown-structured document at its headings; other documents pass through."""
    if document.metadata.get("doc_type") not in STRUCTURED_TYPES:
        return [document]
    splitter = MarkdownHeaderTextSplitter(HEADERS, strip_headers=True)
    sections = []
    for section in splitter.split_text(document.page_content):
        path = [section.metadata[key] for _, key in HEADERS if section.metadata.get(key)]
        text = section.page_content.replace("  \n", "\n")
        metadata = {**document.metadata, "heading": " > ".join(path)}
        sections.append(Document(page_content=text, metadata=metadata))
    return sections


def split_documents(documents: list[Document], options: SplitOptions | None = None) -> list[Document]:
    """Split loaded documents into chunks with heading, index and hash metadata.

    Args:
        documents: the output of :func:`knowledge.loaders.load_file` for one file.
        options: chunk size and overlap (defaults: :class:`SplitOptions`).

    Returns:
        The chunks, in reading order, numbered 0..n-1 across the whole file.
    """
    options = options or SplitOptions()
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=options.chunk_size,
        chunk_overlap=options.chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )
    chunks: list[Document] = []
    for document in documents:
        if document.metadata.get("doc_type") == "faq":
            pieces = [document.model_copy(update={"metadata": {**document.metadata}})]
            pieces[0].metadata.setdefault("heading", document.metadata.get("question", ""))
        else:
            pieces = splitter.split_documents(_sections(document))
        chunks.extend(piece for piece in pieces if piece.page_content.strip())
    for index, chunk in enumerate(chunks):
        chunk.metadata.setdefault("heading", "")
        chunk.metadata.update(chunk_index=index, chunk_count=len(chunks), content_hash=content_hash(chunk.page_content))
    return chunks
