"""Category lexicons matched with one Aho–Corasick automaton, with context-aware exceptions.

A lexicon folder holds one ``<category>.txt`` file per category (one term per line, ``#``
comments, a trailing ``*`` for "this prefix", e.g. ``kill*`` also finds ``killing``) and an
``exceptions.yaml`` with two kinds of exception:

* ``rules``: a hit on one of ``terms`` is ignored when one of ``context`` occurs within
  ``window`` characters of it ("kill" near "process", "shoot" near "photo", "杀了" near "病毒");
* ``allow``: phrases that make any hit inside them benign ("killer app", "杀毒软件").

Terms, contexts and allowed phrases are folded like the text (see :mod:`.normalize`), put into
one automaton, and found in one pass over each view of the text. Terms that start or end with a
Latin letter or digit must stand as whole words (``ass`` is not found in ``class``); Chinese
terms match anywhere.

Example:
    >>> lexicon = Lexicon.from_terms({"violence": ["kill*"]}, rules=[(["kill"], ["process"])])
    >>> [h.category for h in lexicon.scan("I will k.i.l.l him")]
    ['violence']
    >>> lexicon.scan("how do I kill a stuck python process?")
    []
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import yaml

from chains.moderation.errors import ModerationConfigError
from chains.moderation.normalize import NormalizedText, fold, normalize

__all__ = ["Lexicon", "LexiconHit", "load_lexicon"]

_TERM, _CONTEXT, _ALLOW = "term", "context", "allow"


@dataclass(frozen=True)
class LexiconHit:
    """One lexicon term found in a text, in original offsets ``[start, end)``."""

    category: str
    term: str
    start: int
    end: int


@dataclass(frozen=True)
class _Entry:
    role: str
    label: str  # category for terms, "" otherwise
    term: str  # as written in the file
    prefix: bool  # no right word boundary
    rules: tuple[int, ...] = ()  # context rules of a term / the rule of a context word


def _is_word_char(char: str) -> bool:
    return char.isascii() and char.isalnum()


def _key(term: str) -> tuple[str, bool]:
    """The folded automaton key of a lexicon line and whether it is a prefix."""
    prefix = term.endswith("*")
    text = " ".join(term.rstrip("*").split())
    return fold(text), prefix


class Lexicon:
    """The compiled lexicon of every category. Build with :func:`load_lexicon` or :meth:`from_terms`.

    Attributes:
        categories: the category names, sorted.
        max_term_length: the longest term in characters (sizes the streaming hold-back window).
        window: how far (characters) a context word may be from the term it excuses.
    """

    def __init__(self, entries: Mapping[str, list[_Entry]], categories: Iterable[str], window: int):
        self.categories = tuple(sorted(categories))
        self.window = window
        self.max_term_length = max((len(k) for k, es in entries.items() if any(e.role == _TERM for e in es)), default=0)
        self._automaton = ahocorasick.Automaton()
        for key, key_entries in entries.items():
            self._automaton.add_word(key, (len(key), tuple(key_entries)))
        if entries:
            self._automaton.make_automaton()
        self._empty = not entries

    @classmethod
    def from_terms(
        cls,
        terms: Mapping[str, Iterable[str]],
        rules: Sequence[tuple[Sequence[str], Sequence[str]]] = (),
        allow: Iterable[str] = (),
        window: int = 30,
        source: str = "<lexicon>",
    ) -> Lexicon:
        """Compile category terms, context rules ``(terms, context)`` and allowed phrases."""
        entries: dict[str, list[_Entry]] = {}
        rules_of: dict[str, list[int]] = {}
        for index, (rule_terms, _context) in enumerate(rules):
            for term in rule_terms:
                rules_of.setdefault(_key(term)[0], []).append(index)
        for category, category_terms in terms.items():
            for term in category_terms:
                key, prefix = _key(term)
                if key:
                    entry = _Entry(_TERM, category, term, prefix, tuple(rules_of.get(key, ())))
                    entries.setdefault(key, []).append(entry)
        for key in rules_of:
            if not any(e.role == _TERM for e in entries.get(key, [])):
                raise ModerationConfigError(
                    f"exception rule names '{key}', which no lexicon contains", source=source, field="rules.terms"
                )
        for index, (_terms, context) in enumerate(rules):
            for word in context:
                key, prefix = _key(word)
                entries.setdefault(key, []).append(_Entry(_CONTEXT, "", word, prefix, (index,)))
        for phrase in allow:
            key, prefix = _key(phrase)
            entries.setdefault(key, []).append(_Entry(_ALLOW, "", phrase, prefix))
        return cls(entries, terms.keys(), window)

    def scan(self, text: str) -> list[LexiconHit]:
        """Every category term in ``text`` that no exception excuses, in order of position."""
        if self._empty or not text:
            return []
        view = normalize(text)
        found = list(self._matches(view.folded, None)) + list(self._matches(view.compact, view))
        terms = [(s, e, entry) for s, e, entry in found if entry.role == _TERM]
        if not terms:
            return []
        allowed = [(s, e) for s, e, entry in found if entry.role == _ALLOW]
        context = [(s, e, entry.rules[0]) for s, e, entry in found if entry.role == _CONTEXT]
        hits = {
            LexiconHit(entry.label, entry.term, s, e)
            for s, e, entry in terms
            if not self._excused(s, e, entry, allowed, context)
        }
        return sorted(hits, key=lambda h: (h.start, h.end, h.category))

    def _matches(self, haystack: str | None, view: NormalizedText | None):
        """Yield ``(start, end, entry)`` in original offsets for one view of the text."""
        if not haystack:
            return
        for last, (length, entries) in self._automaton.iter(haystack):
            start, end = last - length + 1, last + 1
            for entry in entries:
                if not self._bounded(haystack, start, end, entry):
                    continue
                if view is not None:
                    yield (*view.to_original(start, end), entry)
                else:
                    yield start, end, entry

    @staticmethod
    def _bounded(haystack: str, start: int, end: int, entry: _Entry) -> bool:
        """Whether a Latin/digit term stands as a whole word (prefix terms: at its start only)."""
        if _is_word_char(haystack[start]) and start > 0 and _is_word_char(haystack[start - 1]):
            return False
        if entry.prefix:
            return True
        return not (_is_word_char(haystack[end - 1]) and end < len(haystack) and _is_word_char(haystack[end]))

    def _excused(
        self, start: int, end: int, entry: _Entry, allowed: list[tuple[int, int]], context: list[tuple[int, int, int]]
    ) -> bool:
        if any(a_start <= start and end <= a_end for a_start, a_end in allowed):
            return True
        if not entry.rules:
            return False
        return any(
            rule in entry.rules and max(c_start - end, start - c_end, 0) <= self.window
            for c_start, c_end, rule in context
        )


def load_lexicon(folder: Path) -> Lexicon:
    """Read ``<category>.txt`` files and ``exceptions.yaml`` from ``folder`` and compile them.

    Raises:
        ModerationConfigError: the folder has no lexicon files or ``exceptions.yaml`` is invalid.
    """
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise ModerationConfigError("no lexicon files (<category>.txt) found", source=str(folder))
    terms = {path.stem: _read_terms(path) for path in files}
    exceptions = folder / "exceptions.yaml"
    if not exceptions.exists():
        return Lexicon.from_terms(terms, source=str(folder))
    rules, allow, window = _read_exceptions(exceptions)
    return Lexicon.from_terms(terms, rules, allow, window, source=str(exceptions))


def _read_terms(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _read_exceptions(path: Path) -> tuple[list[tuple[list[str], list[str]]], list[str], int]:
    """Parse ``exceptions.yaml``: ``window``, ``rules`` (``terms`` + ``context``), ``allow``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ModerationConfigError(f"invalid YAML: {exc}", source=str(path)) from exc
    if not isinstance(data, dict):
        raise ModerationConfigError("expected a mapping with 'rules' and 'allow'", source=str(path))
    window = data.get("window", 30)
    if not isinstance(window, int) or window < 0:
        raise ModerationConfigError(
            f"must be a non-negative integer (got {window!r})", source=str(path), field="window"
        )
    rules = []
    for index, rule in enumerate(data.get("rules") or []):
        if not isinstance(rule, dict) or not rule.get("terms") or not rule.get("context"):
            raise ModerationConfigError(
                "each rule needs non-empty 'terms' and 'context' lists", source=str(path), field=f"rules[{index}]"
            )
        rules.append(([str(t) for t in rule["terms"]], [str(c) for c in rule["context"]]))
    return rules, [str(a) for a in data.get("allow") or []], window
