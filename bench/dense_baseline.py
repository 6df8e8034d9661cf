"""The plain dense baseline for FAQ-style corpora: MiniLM over heading-aware 800-character chunks.

No BM25, no fusion, no threshold, no Chroma: each Markdown chapter is cut at its headings (a
line of 1-6 ``#`` outside fenced and indented code), each section — its heading line first —
is cut by LangChain's ``RecursiveCharacterTextSplitter`` into chunks of at most 800 characters
(120 overlap), every chunk is embedded as it is, and a query returns the chunks with the
highest cosine similarity. It knows each chunk's section from its own parse, so it is
independent of ``knowledge.splitting``.

Example:
    >>> baseline = DenseBaseline(Path("chapters"), local_embeddings())  # doctest: +SKIP
    >>> baseline.search("What is Python?", 1)                           # doctest: +SKIP
    [('general.md', 'What is Python?')]
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter

__all__ = ["DenseBaseline", "markdown_sections"]

_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$")


def markdown_sections(text: str) -> list[tuple[str, str]]:
    """``(heading, section text with its heading line)`` for each section of a Markdown text."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            sections.append((match.group(2), [line]))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections if "\n".join(lines).strip()]


class DenseBaseline:
    """Cosine search over heading-aware chunks of the Markdown files in ``folder``."""

    def __init__(self, folder: Path, embeddings: Embeddings, chunk_size: int = 800, chunk_overlap: int = 120):
        splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.keys: list[tuple[str, str]] = []
        texts: list[str] = []
        for path in sorted(folder.glob("*.md")):
            for heading, section in markdown_sections(path.read_text(encoding="utf-8")):
                for chunk in splitter.split_text(section):
                    self.keys.append((path.name, heading))
                    texts.append(chunk)
        self._embeddings = embeddings
        self._matrix = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.keys)

    def search(self, query: str, k: int) -> list[tuple[str, str]]:
        """The ``(file, heading)`` of the ``k`` chunks nearest to ``query``, best first."""
        similarity = self._matrix @ np.asarray(self._embeddings.embed_query(query), dtype=np.float32)
        return [self.keys[position] for position in np.argsort(-similarity)[:k]]
