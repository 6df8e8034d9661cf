"""Cutting loaded documents into chunks small enough to embed and to quote.

Markdown-structured text (Markdown, and HTML/DOCX, whose loaders emit ``#`` headings) is first
cut at its headings (:func:`markdown_sections`), so a chunk never straddles two sections and
knows its heading path (``"Returns > Refunds"``) — the heading lines move into that metadata,
and :func:`embedding_text` puts the path back in front of every chunk of the section when it
is embedded or indexed for BM25. A heading is an ATX line (``#`` to ``######`` after at most
three spaces) or a setext one (a line underlined with ``===`` or ``---``), never a line of a
fenced or indented code block: a ``# comment`` or a ``# apt install`` root prompt inside code
is code, not the start of a new section (LangChain's ``MarkdownHeaderTextSplitter``, used
before, took such lines for headings, cutting the answer off its question and relabelling the
rest with the command, and it stripped every line's indentation). Long sections, plain text
and PDF pages are then cut by ``RecursiveCharacterTextSplitter`` at paragraph, line and
sentence boundaries (Chinese sentence punctuation included). FAQ rows stay one chunk each.

Every chunk gets ``heading``, ``chunk_index``, ``chunk_count`` and ``content_hash`` metadata.
The defaults (800 characters, 120 overlap) keep a chunk under the 256-token window of the
MiniLM embedding model for English text. :data:`SPLITTER_VERSION` names these rules; ingestion
keys a file's chunks by it, so changing the rules re-splits files that did not change.

Example:
    >>> from langchain_core.documents import Document
    >>> doc = Document(page_content="# Returns\\n\\n## Refunds\\n\\nWithin 14 days.\\n\\n    # not a heading",
    ...                metadata={"title": "Returns", "doc_type": "markdown"})
    >>> [c.metadata["heading"] for c in split_documents([doc])]
    ['Returns > Refunds']
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

__all__ = ["SPLITTER_VERSION", "SplitOptions", "content_hash", "embedding_text", "markdown_sections", "split_documents"]

SPLITTER_VERSION = "2"
"""Version of the splitting rules (1: LangChain's Markdown header splitter; 2: code-aware headings)."""
_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
STRUCTURED_TYPES = frozenset({"markdown", "html", "docx"})
SEPARATORS = ["\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ", ""]


@dataclass(frozen=True)
class SplitOptions:
    """How documents are cut into chunks."""

    chunk_size: int = 800
    """Largest chunk, in characters."""
    chunk_overlap: int = 120
    """Characters repeated between neighbouring chunks of one section."""

    def signature(self) -> str:
        """What decides the chunks besides the file: the rules' version and these sizes."""
        return f"splitter={SPLITTER_VERSION};size={self.chunk_size};overlap={self.chunk_overlap}"


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


def markdown_sections(text: str) -> list[tuple[list[str], str]]:
    """Cut Markdown at its headings: ``(heading path, section body)`` pairs in reading order.

    Text before the first heading has an empty path; heading lines are not in the bodies;
    code lines keep their indentation.

    Example:
        >>> markdown_sections("# A\\nintro\\n## B\\n```\\n# code\\n```\\n\\nC\\n---\\nend")
        [(['A'], 'intro'), (['A', 'B'], '```\\n# code\\n```'), (['A', 'C'], 'end')]
    """
    sections: list[tuple[list[str], list[str]]] = [([], [])]
    stack: list[tuple[int, str]] = []
    fence = ""
    for line in text.split("\n"):
        body = sections[-1][1]
        opening = _FENCE.match(line)
        if fence or opening:
            if not fence:
                fence = opening.group(1)[0] * 3  # type: ignore[union-attr]
            elif line.strip().startswith(fence):
                fence = ""
            body.append(line)
        elif atx := _ATX.match(line):
            stack = _push(stack, len(atx.group(1)), atx.group(2).strip())
            sections.append(([text for _, text in stack], []))
        elif _SETEXT.match(line) and body and body[-1].strip() and _is_paragraph_line(body, line):
            title = body.pop().strip()
            stack = _push(stack, 1 if line.strip().startswith("=") else 2, title)
            sections.append(([text for _, text in stack], []))
        else:
            body.append(line)
    return [(path, "\n".join(lines).strip("\n").rstrip()) for path, lines in sections if "".join(lines).strip()]


def _push(stack: list[tuple[int, str]], level: int, title: str) -> list[tuple[int, str]]:
    """The heading stack after a heading of ``level``: deeper or equal levels end."""
    return [(depth, text) for depth, text in stack if depth < level] + [(level, title)]


def _is_paragraph_line(body: list[str], underline: str) -> bool:
    """Whether the line above a ``---``/``===`` run is a one-line paragraph (a setext heading),
    not a list item, table row, code line or a thematic break under a longer paragraph."""
    above = body[-1]
    before = body[-2] if len(body) > 1 else ""
    if above.startswith(("    ", "\t")) or above.lstrip().startswith(("- ", "* ", "+ ", "|", ">")):
        return False
    return not before.strip() and len(underline.strip()) >= 3


def _sections(document: Document) -> list[Document]:
    """Cut a Markdown-structured document at its headings; other documents pass through."""
    if document.metadata.get("doc_type") not in STRUCTURED_TYPES:
        return [document]
    sections = []
    for path, body in markdown_sections(document.page_content):
        text = body.replace("  \n", "\n")
        sections.append(Document(page_content=text, metadata={**document.metadata, "heading": " > ".join(path)}))
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
