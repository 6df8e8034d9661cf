"""Public texts the task-routing sets are built from: doc paragraphs, FAQ headings, package names.

Readers only; which rows they become is decided by ``bench/build_routing_trainset.py`` (fitted on)
and ``bench/build_routing_evalset.py`` (never fitted on). Every reader returns a sorted,
de-duplicated list, so a seeded sample of it is reproducible.

* :func:`rst_paragraphs` — prose paragraphs of reStructuredText sources (Python's docs, Debian
  ``python3.11-doc``), optionally with the code block that follows them.
* :func:`asciidoc_paragraphs` — prose paragraphs of Git's text manuals (Debian ``git-doc``).
* :func:`manpage_paragraphs` — paragraphs of Chinese man pages (Debian ``manpages-zh``).
* :func:`venv_distributions` / :func:`debian_packages` — names of installed Python
  distributions / Debian packages, with their one-line summaries.

Example:
    >>> paragraphs = rst_paragraphs(Path("/usr/share/doc/python3.11/html/_sources/tutorial"))  # doctest: +SKIP
"""

from __future__ import annotations

import gzip
import importlib.metadata
import re
import subprocess
from pathlib import Path

__all__ = ["asciidoc_paragraphs", "debian_packages", "manpage_paragraphs", "rst_paragraphs", "venv_distributions"]

_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")
_RST_MARKUP = re.compile(r"\*\*|``|\*(?=\w)|(?<=\w)\*")
_ADORNMENT = re.compile(r"^([=\-~^*+#\"'`])\1{2,}\s*$")
_GROFF_FONT = re.compile(r"\\f[BIRP]|\\f\(\w\w|\\\(\w\w|\\[-&e]")


def _prose(block: list[str]) -> bool:
    first = block[0]
    return not (
        first.startswith((" ", "\t", "..", "|", ">>>", "*", "-", "+", "[", "=", "#"))
        or any(_ADORNMENT.match(line) for line in block)
    )


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            blocks[-1].append(line.rstrip())
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def rst_paragraphs(folder: Path, low: int = 200, high: int = 900, with_code: bool = True) -> list[str]:
    """Prose paragraphs of every ``*.rst.txt`` under ``folder``, roles and links reduced to text.

    With ``with_code`` a paragraph ending in ``::`` keeps the indented block after it (so some
    texts to summarise carry code, as pasted documentation does).
    """
    found: set[str] = set()
    for path in sorted(folder.glob("*.rst.txt")):
        blocks = _blocks(path.read_text(encoding="utf-8").splitlines())
        for i, block in enumerate(blocks):
            if not _prose(block):
                continue
            text = " ".join(line.strip() for line in block)
            text = _RST_MARKUP.sub("", _LINK.sub(r"\1", _ROLE.sub(r"\1", text)))
            if len(text) < 80:
                continue
            if with_code and text.endswith("::") and i + 1 < len(blocks) and blocks[i + 1][0].startswith(" "):
                text = text[:-1] + "\n\n" + "\n".join(blocks[i + 1])
            if low <= len(text) <= high:
                found.add(text)
    return sorted(found)


def asciidoc_paragraphs(paths: list[Path], low: int = 200, high: int = 900) -> list[str]:
    """Prose paragraphs of Git's AsciiDoc text manuals (``linkgit:x[1]`` becomes ``x``)."""
    found: set[str] = set()
    for path in paths:
        for block in _blocks(path.read_text(encoding="utf-8").splitlines()):
            if not _prose(block) or block[0].startswith(("[[", "----", "NAME", "SYNOPSIS")):
                continue
            text = re.sub(r"linkgit:([\w-]+)\[\d\]", r"\1", " ".join(line.strip() for line in block))
            text = re.sub(r"<<[\w-]+,([^>]+)>>", r"\1", text)
            if low <= len(text) <= high and not text.endswith("::"):
                found.add(text)
    return sorted(found)


def manpage_paragraphs(folder: Path, low: int = 80, high: int = 500) -> list[str]:
    """Paragraphs (``.PP``/``.SH``-separated text) of the gzipped man pages under ``folder``."""
    found: set[str] = set()
    for path in sorted(folder.glob("*.gz")):
        try:
            source = gzip.decompress(path.read_bytes()).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        paragraph: list[str] = []
        for line in [*source.splitlines(), ".PP"]:
            if line.startswith((".", "'")):
                text = _GROFF_FONT.sub("", "".join(paragraph)).strip()
                if low <= len(text) <= high and sum("\u4e00" <= ch <= "\u9fff" for ch in text) > len(text) / 3:
                    found.add(text)
                paragraph = []
            else:
                paragraph.append(line.strip())
    return sorted(found)


def venv_distributions() -> list[tuple[str, str]]:
    """(name, summary) of every Python distribution installed beside this interpreter."""
    found = {
        (dist.metadata["Name"], (dist.metadata["Summary"] or "").strip())
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    return sorted(found)


def debian_packages() -> list[tuple[str, str]]:
    """(name, summary) of every installed Debian package (``dpkg-query``; empty without dpkg)."""
    try:
        listing = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package}\t${binary:Summary}\n"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    pairs = {tuple(line.split("\t", 1)) for line in listing.splitlines() if "\t" in line}
    return sorted((name, summary) for name, summary in pairs if not name.startswith("lib"))
