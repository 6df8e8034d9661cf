"""Text normalisation for lexicon matching: the same word, however it is disguised.

Two views of a text are matched against the lexicon:

* the **folded** view has exactly one character per original character, so a match's offsets
  are the original offsets. Each character is folded on its own: Unicode NFKC (full-width
  ``ｋｉｌｌ`` and maths letters ``𝐤𝐢𝐥𝐥`` become ``kill``), accents dropped (``kíll``), case
  folded, look-alike letters mapped to Latin ones (Cyrillic ``кіll``, Greek ``κ``), common
  digit and symbol substitutions mapped to letters (``k1ll``, ``$hit``, ``@ss``), every kind of
  white space mapped to a plain space. ``l``, ``1`` and ``|`` all fold to ``i`` (a "skeleton",
  as in Unicode's confusables), so lexicon terms are folded the same way before they are
  added to the automaton.
* the **compact** view (built only when needed) also removes characters that were inserted to
  break a word: separators between single letters (``k.i.l.l``, ``k i l l``), separators
  between Chinese characters (``敏 感``, ``敏*感``), zero-width characters anywhere, and
  repeated spaces. :meth:`NormalizedText.to_original` maps its offsets back.

Example:
    >>> view = normalize("Ｋ.1.Ｌ.Ｌ it")
    >>> view.folded
    'k.i.i.i it'
    >>> view.compact
    'kiii it'
    >>> view.to_original(0, 4)
    (0, 7)
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = ["NormalizedText", "fold", "fold_char", "normalize"]

#: Letters from other scripts that look like Latin letters (lower case, after case folding).
_LOOK_ALIKES = {
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ԁ": "d",
    "һ": "h",
    "ӏ": "i",
    "ԛ": "q",
    "ԝ": "w",
    "ь": "b",
    "α": "a",
    "β": "b",
    "ε": "e",
    "η": "n",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ο": "o",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "ω": "w",
    "ɡ": "g",
    "ı": "i",
    "ł": "i",
    "ø": "o",
    "ß": "s",
}
#: Digits and symbols used in place of letters; ``l`` joins the ``i`` skeleton.
_SUBSTITUTES = {
    "0": "o",
    "1": "i",
    "3": "e",
    "4": "a",
    "5": "s",
    "7": "t",
    "8": "b",
    "@": "a",
    "$": "s",
    "|": "i",
    "l": "i",
    "€": "e",
    "¡": "i",
}
#: Invisible characters used to split words; all fold to U+200B and the compact view drops them.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u200e\u200f"
ZERO_WIDTH = "\u200b"

_SEPARATOR_CHARS = r" .\-_*·•,|/\\'\"~+#^=:;`"
_SEPARATOR_SET = set(" .-_*·•,|/\\'\"~+#^=:;`")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: Characters worth removing from the folded view to get the compact one.
_REMOVABLE = re.compile(
    rf"(?P<letters>(?<![a-z])[a-z](?:[{_SEPARATOR_CHARS}]{{1,3}}[a-z]){{2,}}(?![a-z]))"  # k.i.l.l
    rf"|(?P<cjk>(?<=[{_CJK}])[ .\-_*·•|/\\~+#^=`]+(?=[{_CJK}]))"  # 敏 感, not CJK punctuation
    rf"|(?P<invisible>{ZERO_WIDTH}+)"
    r"|(?P<spaces>  +)"
)
_LETTER_SEPARATORS = re.compile(rf"[{_SEPARATOR_CHARS}]+")
#: Cheap tests that tell whether ``_REMOVABLE`` can find anything (most texts: no).
_SINGLE_LETTERS = re.compile(rf"[{_SEPARATOR_CHARS}][a-z][{_SEPARATOR_CHARS}]{{1,3}}[a-z][{_SEPARATOR_CHARS}]")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


def fold_char(char: str) -> str:
    """Fold one character to the one character it is matched as (see the module docstring)."""
    if char in _INVISIBLE:
        return ZERO_WIDTH
    if char.isspace():
        return " "
    text = unicodedata.normalize("NFKC", char)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.casefold()
    if len(text) != 1:
        text = char.casefold() if len(char.casefold()) == 1 else char
    text = _LOOK_ALIKES.get(text, text)
    return _SUBSTITUTES.get(text, text)


class _FoldTable(dict[int, str]):
    """A ``str.translate`` table that folds each character once and remembers it."""

    def __missing__(self, codepoint: int) -> str:
        folded = fold_char(chr(codepoint))
        self[codepoint] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """The folded view of ``text``: same length, one folded character per character."""
    return text.translate(_TABLE)


@dataclass
class NormalizedText:
    """The views of one text that the lexicon matcher searches.

    Attributes:
        original: the text as given.
        folded: one folded character per original character (same offsets).
        compact: the folded view without inserted separators, or ``None`` when nothing was
            removed (then matching the folded view is enough).
    """

    original: str
    folded: str
    compact: str | None = None
    _starts: list[int] = field(default_factory=list, repr=False)
    _origins: list[int] = field(default_factory=list, repr=False)

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the compact view to the original text."""
        return self._origin(start), self._origin(end - 1) + 1

    def _origin(self, index: int) -> int:
        segment = bisect_right(self._starts, index) - 1
        return self._origins[segment] + (index - self._starts[segment])


def normalize(text: str) -> NormalizedText:
    """Build the folded view of ``text`` and, when something was inserted, the compact one."""
    folded = fold(text)
    removals = list(_removals(folded)) if _may_remove(folded) else []
    if not removals:
        return NormalizedText(text, folded)
    pieces: list[str] = []
    starts: list[int] = []
    origins: list[int] = []
    cursor = 0
    length = 0
    for start, end in removals:
        if start > cursor:
            starts.append(length)
            origins.append(cursor)
            pieces.append(folded[cursor:start])
            length += start - cursor
        cursor = end
    if cursor < len(folded):
        starts.append(length)
        origins.append(cursor)
        pieces.append(folded[cursor:])
    return NormalizedText(text, folded, "".join(pieces), starts, origins)


def _may_remove(folded: str) -> bool:
    """Whether anything could be removed; skips the costlier ``_REMOVABLE`` scan for most texts."""
    return (
        ZERO_WIDTH in folded
        or "  " in folded
        or folded[:1].isalpha()
        and folded[1:2] in _SEPARATOR_SET
        or bool(_SINGLE_LETTERS.search(folded))
        or bool(_CJK_CHAR.search(folded))
    )


def _removals(folded: str) -> Iterator[tuple[int, int]]:
    """Yield sorted ``(start, end)`` spans of the folded view that the compact view drops."""
    for match in _REMOVABLE.finditer(folded):
        if match.lastgroup == "letters":
            for sep in _LETTER_SEPARATORS.finditer(match.group()):
                yield match.start() + sep.start(), match.start() + sep.end()
        elif match.lastgroup == "spaces":
            yield match.start() + 1, match.end()  # keep one space
        else:
            yield match.span()
