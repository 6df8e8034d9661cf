"""Turning files into LangChain ``Document`` objects, one loader per file type.

Every loader takes the file's path and its bytes (read once by the caller, who also hashes
them) and returns documents whose ``page_content`` is plain text — Markdown-style ``#``
headings are kept (and produced for HTML and DOCX) so the splitter can follow the structure.
Metadata set here: ``title``, ``doc_type`` and, where it applies, ``page`` (PDF, 1-based) and
``question`` / ``row`` (FAQ files, one document per row).

A file that cannot be read raises :class:`UnreadableDocument` with a reason a person can act
on; the ingester turns that into a warning and carries on with the other files.

Example:
    >>> from pathlib import Path
    >>> path = Path("notes.md")
    >>> docs = load_file(path, b"# Returns\\n\\nWithin 30 days.")   # doctest: +SKIP
    >>> docs[0].metadata["title"]                                    # doctest: +SKIP
    'Returns'
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from pathlib import Path

from langchain_core.documents import Document

from core.errors import KnowledgeError

__all__ = [
    "SUPPORTED_SUFFIXES",
    "UnreadableDocument",
    "decode_text",
    "load_file",
]

Loader = Callable[[Path, bytes], list[Document]]

QUESTION_KEYS = ("question", "q", "query", "问题", "問題")
ANSWER_KEYS = ("answer", "a", "response", "text", "答案", "回答")


class UnreadableDocument(KnowledgeError):
    """A file could not be turned into text; ``reason`` says why."""

    def __init__(self, path: Path | str, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def decode_text(data: bytes, path: Path | str = "") -> str:
    """Bytes → text: UTF-8 (with or without BOM) first, else the best detected encoding.

    Raises:
        UnreadableDocument: the bytes look binary or no encoding fits.
    """
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableDocument(path, "looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnreadableDocument(path, "not valid UTF-8 and no other text encoding fits")
    return str(best)


def _doc(text: str, title: str, doc_type: str, **extra: object) -> Document:
    return Document(page_content=text, metadata={"title": title, "doc_type": doc_type, **extra})


def _first_heading(text: str) -> str:
    match = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def load_text(path: Path, data: bytes) -> list[Document]:
    """A plain-text file: one document."""
    return [_doc(decode_text(data, path), path.stem, "text")]


def load_markdown(path: Path, data: bytes) -> list[Document]:
    """A Markdown file: one document titled by its first heading (else the file name)."""
    text = decode_text(data, path)
    return [_doc(text, _first_heading(text) or path.stem, "markdown")]


def load_html(path: Path, data: bytes) -> list[Document]:
    """An HTML page: visible text, ``<h1>``–``<h6>`` turned into Markdown headings, ``<pre>`` into fenced code."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data, path), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    for tag in soup(["head", "title", "script", "style", "noscript", "template", "svg"]):
        tag.decompose()
    for block in soup.find_all("pre"):  # code stays code: its "# comment" lines are no headings
        block.replace_with(f"\n\n```\n{block.get_text().strip(chr(10))}\n```\n\n")
    for level in range(1, 7):
        for heading in soup.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return [_doc(text, title or _first_heading(text) or path.stem, "html")]


def load_pdf(path: Path, data: bytes) -> list[Document]:
    """A PDF: one document per page that has text (``page`` is 1-based)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnreadableDocument(path, "the PDF is encrypted")
        title = (reader.metadata.title if reader.metadata else None) or path.stem
        pages = [(number, page.extract_text() or "") for number, page in enumerate(reader.pages, 1)]
    except UnreadableDocument:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise UnreadableDocument(path, f"not a readable PDF ({type(error).__name__}: {error})") from error
    return [_doc(text, str(title), "pdf", page=number) for number, text in pages if text.strip()]


def load_docx(path: Path, data: bytes) -> list[Document]:
    """A Word document: paragraphs and tables in order; heading styles become ``#`` headings."""
    from docx import Document as open_docx
    from docx.table import Table

    try:
        document = open_docx(io.BytesIO(data))
    except Exception as error:  # python-docx raises zipfile, lxml and KeyError variants
        raise UnreadableDocument(path, f"not a readable DOCX ({type(error).__name__}: {error})") from error
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(" | ".join(cell.text.strip() for cell in row.cells) for row in block.rows)
            continue
        style = (block.style.name if block.style is not None else "") or ""
        level = _heading_level(style)
        lines.append(f"{'#' * level} {block.text.strip()}" if level and block.text.strip() else block.text)
    text = "\n\n".join(line for line in lines if line.strip())
    title = document.core_properties.title or _first_heading(text) or path.stem
    return [_doc(text, title, "docx")]


def _heading_level(style_name: str) -> int:
    if style_name == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", style_name)
    return int(match.group(1)) if match else 0


def _pick(row: dict[str, str], keys: tuple[str, ...]) -> str:
    lowered = {str(key).strip().lower(): value for key, value in row.items() if key is not None}
    for key in keys:
        value = lowered.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _faq_rows(path: Path, rows: list[tuple[int, dict[str, str]]]) -> list[Document]:
    """FAQ rows → one document each: question + answer as text, the question as ``question``
    and ``title`` metadata (rows without a question are answer-only and untitled)."""
    documents = []
    for row_number, row in rows:
        question, answer = _pick(row, QUESTION_KEYS), _pick(row, ANSWER_KEYS)
        if not answer:
            continue
        text = f"{question}\n{answer}" if question else answer
        extra = {"question": question} if question else {}
        documents.append(_doc(text, question, "faq", row=row_number, **extra))
    if rows and not documents:
        raise UnreadableDocument(path, f"no answer column found (expected one of {', '.join(ANSWER_KEYS)})")
    return documents


def load_csv(path: Path, data: bytes) -> list[Document]:
    """A CSV FAQ with a header row (``question``/``answer`` columns; ``;`` and tabs also work)."""
    text = decode_text(data, path)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
        rows = [(number, row) for number, row in enumerate(reader, 2)]
    except csv.Error as error:
        raise UnreadableDocument(path, f"malformed CSV ({error})") from error
    return _faq_rows(path, rows)


def load_jsonl(path: Path, data: bytes) -> list[Document]:
    """A JSON-lines FAQ: one object per line with ``question``/``answer`` keys."""
    rows = []
    for number, line in enumerate(decode_text(data, path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise UnreadableDocument(path, f"line {number} is not valid JSON ({error.msg})") from error
        if not isinstance(row, dict):
            raise UnreadableDocument(path, f"line {number} is not a JSON object")
        rows.append((number, row))
    return _faq_rows(path, rows)


LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".text": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".csv": load_csv,
    ".jsonl": load_jsonl,
}

SUPPORTED_SUFFIXES = frozenset(LOADERS)


def load_file(path: Path, data: bytes | None = None) -> list[Document]:
    """Load one file into documents, choosing the loader by its suffix.

    Args:
        path: the file; its suffix picks the loader.
        data: the file's bytes when the caller already read them.

    Raises:
        UnreadableDocument: unsupported type, unreadable, corrupt or undecodable file.
    """
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise UnreadableDocument(path, f"unsupported file type '{path.suffix or '(none)'}'")
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise UnreadableDocument(path, f"cannot read ({error.strerror or error})") from error
    return loader(path, data)
