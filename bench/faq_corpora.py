"""FAQ-style evaluation corpora: chapter files with one section per question, and their queries.

Two sources, reshaped the same way — a chapter is a Markdown file, a question is a heading and
its answer the section's body:

* **python-faq** — the Python FAQ (Python Software Foundation, PSF License 2.0), read from the
  reStructuredText sources that Debian's ``python3.11-doc`` package installs under
  ``/usr/share/doc/python3.11/html/_sources/faq/``: 8 chapters, about 180 questions, answers with
  code blocks (indented, as in the source) and sub-groups (``# Chapter > ## Group > ### Question``).
* **zaragoza-chapters** — ``zaragoza-construction-faq`` (PyPI, CC-BY-4.0, Zaragoza AB): the English
  question/answer pairs grouped into one chapter file per category (``# Category > ## Question``),
  503 sections.

Queries: every section's own question, and paraphrases written by hand in
``bench/data/faq_paraphrases.jsonl`` (``{"source", "question", "paraphrase"}``; a paraphrase whose
question is not a section of its source raises ``ValueError`` naming the line).

Example:
    >>> corpus = build_python_faq(Path("/tmp/pyfaq"))  # doctest: +SKIP
    >>> corpus.sections[0].question                    # doctest: +SKIP
    'What is Python?'
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FaqCorpus", "Query", "Section", "build_python_faq", "build_zaragoza_chapters", "load_paraphrases"]

PYTHON_FAQ_SOURCES = Path("/usr/share/doc/python3.11/html/_sources/faq")
PARAPHRASES = Path(__file__).resolve().parent / "data" / "faq_paraphrases.jsonl"
_ADORNMENT = re.compile(r"^([=\-~^*+#\"'`])\1{2,}\s*$")
_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")


@dataclass(frozen=True)
class Query:
    """A query and the sections (``(file, question)`` keys) that answer it."""

    text: str
    relevant: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Section:
    """One question of a corpus: the chapter file it is in, its heading, and its answer."""

    file: str
    question: str
    answer: str


@dataclass
class FaqCorpus:
    """A folder of chapter files and the sections (questions) in them."""

    name: str
    folder: Path
    sections: list[Section] = field(default_factory=list)
    licence: str = ""

    def key(self, file: str, question: str) -> tuple[str, str]:
        """The identity of a section: chapter file name and question text."""
        return (file, question.strip())

    def queries(self, paraphrases: dict[str, list[tuple[str, str]]]) -> tuple[list[Query], list[Query]]:
        """Each distinct question once, and this source's paraphrases, with their relevant sections.

        A question asked in several sections (the data sets repeat a few) is relevant to all of them.

        Raises:
            ValueError: for a paraphrase of a question that is not a section of this corpus.
        """
        by_question: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for section in self.sections:
            by_question[section.question].add(self.key(section.file, section.question))
        exact = [Query(question, frozenset(keys)) for question, keys in by_question.items()]
        reworded = []
        for number, (question, paraphrase) in enumerate(paraphrases.get(self.name, []), start=1):
            if question not in by_question:
                raise ValueError(f"{PARAPHRASES.name}: {self.name} paraphrase {number}: no section {question!r}")
            reworded.append(Query(paraphrase, frozenset(by_question[question])))
        return exact, reworded


def _clean_rst(line: str) -> str:
    """Inline reStructuredText markup → plain text (roles, links, literals, emphasis)."""
    line = _LINK.sub(r"\1", _ROLE.sub(r"\1", line))
    return line.replace("``", "`").replace("::", ":")


def _rst_sections(text: str) -> tuple[str, list[tuple[int, str, list[str]]]]:
    """The title and ``(level, heading, body lines)`` of a reStructuredText file, in order."""
    lines = text.splitlines()
    styles: list[tuple[str, bool]] = []
    title, sections = "", []
    body: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        following = lines[index + 1] if index + 1 < len(lines) else ""
        overline = bool(_ADORNMENT.match(line)) and index + 2 < len(lines) and _ADORNMENT.match(lines[index + 2])
        if overline and lines[index + 1].strip():
            style, heading, index = (line[0], True), lines[index + 1], index + 3
        elif line.strip() and not line.startswith(" ") and _ADORNMENT.match(following) and len(following) >= 3:
            style, heading, index = (following[0], False), line, index + 2
        else:
            body.append(line)
            index += 1
            continue
        heading = " ".join(_clean_rst(heading).split())
        if style not in styles:
            styles.append(style)
        level = styles.index(style) + 1
        if level == 1 and not title:
            title = heading
        else:
            body = []
            sections.append((level, heading, body))
    return title, sections


def _rst_body(lines: list[str]) -> str:
    """A section body without directives, labels and comments.

    Literal blocks (after ``::`` or ``.. code-block``) become Markdown code blocks, indented by
    four spaces as Markdown wants, so their ``# comment`` lines stay code.
    """
    kept: list[str] = []
    skipping = literal = False
    for line in lines:
        indented = line.startswith(" ")
        if line.startswith(".. "):
            literal = line.startswith(".. code-block")
            skipping = not literal and not line.startswith((".. note", ".. seealso"))
            continue
        if skipping and (indented or not line.strip()):
            continue
        skipping = False
        if literal and indented:
            kept.append("    " + line)
            continue
        if line.strip() and not indented:
            literal = False
        kept.append(_clean_rst(line))
        literal = literal or line.rstrip().endswith("::")
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()


def build_python_faq(folder: Path, sources: Path = PYTHON_FAQ_SOURCES) -> FaqCorpus:
    """Write the Python FAQ as Markdown chapter files under ``folder``.

    Raises:
        FileNotFoundError: when the FAQ sources are not installed (``apt-get install python3.11-doc``).
    """
    files = sorted(path for path in sources.glob("*.rst.txt") if path.name != "index.rst.txt")
    if not files:
        raise FileNotFoundError(f"no Python FAQ sources in {sources} (apt-get install python3.11-doc)")
    folder.mkdir(parents=True, exist_ok=True)
    corpus = FaqCorpus("python-faq", folder, licence="PSF License 2.0 (Python documentation)")
    for path in files:
        title, sections = _rst_sections(path.read_text(encoding="utf-8"))
        name = path.name.replace(".rst.txt", ".md")
        depth = max(level for level, _, _ in sections)
        out = [f"# {title}"]
        for position, (level, heading, body) in enumerate(sections):
            text = _rst_body(body)
            leaf = position + 1 == len(sections) or sections[position + 1][0] <= level
            out.append(f"{'#' * (level if depth > 2 else level + 1)} {heading}")
            out.extend([text] if text else [])
            if leaf and text:
                corpus.sections.append(Section(name, heading, text))
        (folder / name).write_text("\n\n".join(out) + "\n", encoding="utf-8")
    return corpus


def build_zaragoza_chapters(folder: Path) -> FaqCorpus:
    """Write zaragoza-construction-faq's English pairs as one Markdown chapter per category."""
    import zaragoza_construction_faq as dataset

    folder.mkdir(parents=True, exist_ok=True)
    corpus = FaqCorpus("zaragoza-chapters", folder, licence="CC-BY-4.0 (Zaragoza AB)")
    chapters: dict[str, list[dict]] = defaultdict(list)
    for pair in dataset.load(lang="en"):
        chapters[pair["category"]].append(pair)
    for category, pairs in sorted(chapters.items()):
        name = f"{category}.md"
        title = category.replace("-", " ").capitalize()
        parts = [f"# {title}"] + [f"## {pair['q'].strip()}\n\n{pair['a'].strip()}" for pair in pairs]
        (folder / name).write_text("\n\n".join(parts) + "\n", encoding="utf-8")
        corpus.sections.extend(Section(name, pair["q"].strip(), pair["a"].strip()) for pair in pairs)
    return corpus


def load_paraphrases(path: Path = PARAPHRASES) -> dict[str, list[tuple[str, str]]]:
    """Source name → ``(question, paraphrase)`` pairs, in file order.

    Raises:
        ValueError: for a line that is not a JSON object with the three string fields.
    """
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            found[row["source"]].append((row["question"].strip(), row["paraphrase"].strip()))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path.name} line {number}: {error}") from error
    return dict(found)
