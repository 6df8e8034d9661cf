"""One detector over every PII type a policy asks for, with overlaps resolved.

Example:
    >>> detector = PiiDetector(["EMAIL", "PHONE", "CN_ID"])
    >>> [(s.type, s.text) for s in detector.detect("邮箱 li@example.cn，电话 +86 138 0013 8000")]
    [('EMAIL', 'li@example.cn'), ('PHONE', '+86 138 0013 8000')]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from chains.moderation.pii.ner import NameDetector
from chains.moderation.pii.patterns import (
    find_addresses,
    find_cards,
    find_cn_ids,
    find_emails,
    find_ibans,
    find_ips,
    find_ssns,
)
from chains.moderation.pii.phone import find_phones
from chains.moderation.pii.spans import PII_TYPES, PiiSpan, pii_view

__all__ = ["PiiDetector", "resolve_overlaps"]

_FINDERS: dict[str, Callable[[str], list[PiiSpan]]] = {
    "EMAIL": find_emails,
    "PHONE": find_phones,
    "CREDIT_CARD": find_cards,
    "IBAN": find_ibans,
    "IP_ADDRESS": find_ips,
    "CN_ID": find_cn_ids,
    "US_SSN": find_ssns,
    "ADDRESS": find_addresses,
}


class PiiDetector:
    """Finds the PII ``types`` in a text.

    Args:
        types: names from :data:`~.spans.PII_TYPES`.
        names: the detector for ``PERSON``; required when ``types`` includes it.

    Raises:
        ValueError: an unknown type, or ``PERSON`` without a name detector.
    """

    def __init__(self, types: Iterable[str], names: NameDetector | None = None):
        self.types = tuple(types)
        unknown = [t for t in self.types if t not in PII_TYPES]
        if unknown:
            raise ValueError(f"unknown PII types {unknown}; known: {list(PII_TYPES)}")
        if "PERSON" in self.types and names is None:
            raise ValueError("PERSON needs a NameDetector")
        self._finders = [_FINDERS[t] for t in self.types if t in _FINDERS]
        self._names = names if "PERSON" in self.types else None

    def detect(self, text: str) -> list[PiiSpan]:
        """Non-overlapping PII spans of ``text`` in order, with the original text of each."""
        view = pii_view(text)
        found = [span for finder in self._finders for span in finder(view)]
        if self._names is not None:
            found += self._names.find(view)
        return [PiiSpan(s.type, s.start, s.end, text[s.start : s.end]) for s in resolve_overlaps(found)]


def resolve_overlaps(spans: Iterable[PiiSpan]) -> list[PiiSpan]:
    """Keep, of overlapping spans, the one whose type comes first in :data:`PII_TYPES` (then the longest)."""
    rank = {name: index for index, name in enumerate(PII_TYPES)}
    chosen: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (rank[s.type], s.start - s.end, s.start)):
        if all(span.end <= kept.start or span.start >= kept.end for kept in chosen):
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)
