"""Keyword rules of the task classifier: cheap, ordered, explainable.

A :class:`~routers.task_config.TaskRule` fires when one of its ``keywords`` or one of its
``patterns`` is found in the prompt. :meth:`KeywordRules.match` lower-cases the text once,
finds every keyword of every rule in one Aho-Corasick pass, then tries the rules in order —
keywords first, then the rule's regular expression (its patterns joined with ``|``) — and
returns the first rule that fires, with the (lower-cased) text that made it fire.

A keyword that starts (ends) with an ASCII letter or digit must start (end) on a word
boundary, so ``code`` is not found in ``barcode``; Chinese keywords match anywhere.

Example:
    >>> from routers.task_config import TaskRule
    >>> rules = KeywordRules([TaskRule(name="translate", task="translation", keywords=["翻译"])])
    >>> rules.match("请翻译这句话").task
    'translation'
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import ahocorasick

from routers.task_config import RULE_FLAGS, TaskRule

__all__ = ["KeywordRules", "RuleMatch"]

_SNIPPET_CHARS = 40
_WORD_CHARS = frozenset(string.ascii_lowercase + string.digits + "_")


@dataclass(frozen=True)
class RuleMatch:
    """Which rule decided, and the text it found."""

    task: str
    rule: str
    snippet: str


class KeywordRules:
    """The configured rules, compiled, in priority order."""

    def __init__(self, rules: Sequence[TaskRule]):
        self._rules = list(rules)
        self._regexes = [
            re.compile("|".join(f"(?:{p})" for p in rule.patterns), RULE_FLAGS) if rule.patterns else None
            for rule in self._rules
        ]
        self._automaton = _automaton(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def match(self, text: str) -> RuleMatch | None:
        """The first rule that fires on ``text`` (already normalised), or ``None``."""
        lowered = text.lower()
        keyword_hits = self._keyword_hits(lowered)
        for i, rule in enumerate(self._rules):
            if i in keyword_hits:
                return RuleMatch(rule.task, rule.name, keyword_hits[i])
            regex = self._regexes[i]
            found = regex.search(lowered) if regex is not None else None
            if found:
                return RuleMatch(rule.task, rule.name, " ".join(found.group(0).split())[:_SNIPPET_CHARS])
        return None

    def _keyword_hits(self, text: str) -> dict[int, str]:
        """Rule index → the first of its keywords found in ``text``."""
        hits: dict[int, str] = {}
        if self._automaton is None:
            return hits
        for end, (keyword, rule_indices) in self._automaton.iter(text):
            if _on_word_boundaries(text, end - len(keyword) + 1, end, keyword):
                for i in rule_indices:
                    hits.setdefault(i, keyword)
        return hits


def _automaton(rules: Sequence[TaskRule]) -> ahocorasick.Automaton | None:
    """One automaton for every keyword; each maps to (keyword, indices of the rules that use it)."""
    owners: dict[str, list[int]] = {}
    for i, rule in enumerate(rules):
        for keyword in rule.keywords:
            owners.setdefault(keyword, []).append(i)
    if not owners:
        return None
    automaton = ahocorasick.Automaton()
    for keyword, indices in owners.items():
        automaton.add_word(keyword, (keyword, tuple(indices)))
    automaton.make_automaton()
    return automaton


def _on_word_boundaries(text: str, start: int, end: int, keyword: str) -> bool:
    """An ASCII-alphanumeric edge of ``keyword`` must not touch another such character."""
    if keyword[0] in _WORD_CHARS and start > 0 and text[start - 1] in _WORD_CHARS:
        return False
    return not (keyword[-1] in _WORD_CHARS and end + 1 < len(text) and text[end + 1] in _WORD_CHARS)
