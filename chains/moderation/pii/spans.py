"""What a PII detector returns, and the character view detectors search.

Example:
    >>> pii_view("手机：１３８ ００１３ ８０００")
    '手机:138 0013 8000'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NER_TYPES", "PII_TYPES", "STRUCTURED_TYPES", "starts_token", "PiiSpan", "pii_view"]

#: Types found by patterns and check digits: fast, and what the evaluation targets.
STRUCTURED_TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "CN_ID", "US_SSN")
#: Types that need a language model (presidio-analyzer + spaCy).
NER_TYPES = ("PERSON",)
#: Every type, in the order overlapping detections are preferred (check digits first).
PII_TYPES = ("CN_ID", "IBAN", "CREDIT_CARD", "EMAIL", "US_SSN", "IP_ADDRESS", "PHONE", "ADDRESS", "PERSON")


@dataclass(frozen=True)
class PiiSpan:
    """One piece of PII: its type and ``[start, end)`` offsets in the original text."""

    type: str
    start: int
    end: int
    text: str


def starts_token(text: str, index: int, also: str = "") -> bool:
    """Whether ``text[index]`` starts a token: no ASCII letter/digit (or a char of ``also``) before it.

    A literal ``\\n``/``\\t`` escape counts as a separator, as in text pasted from JSON or logs
    (``Phone:\\n415 555 0132``). Checked in Python rather than as a regex look-behind, which would
    stop ``re`` from skipping quickly to candidate characters.
    """
    if index == 0:
        return True
    before = text[index - 1]
    if before in also:
        return False
    if not (before.isascii() and before.isalnum()):
        return True
    return text[max(0, index - 2) : index] in ("\\n", "\\r", "\\t")


_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}  # full-width ASCII forms
_WIDTH.update({0x3000: 0x20, 0x00A0: 0x20, 0x2212: 0x2D, 0x3002: 0x2E})
_WIDTH.update({code: 0x2D for code in range(0x2010, 0x2016)})  # hyphens and dashes


def pii_view(text: str) -> str:
    """``text`` with full-width forms, odd spaces and dashes made ASCII; same length and offsets."""
    return text.translate(_WIDTH)
