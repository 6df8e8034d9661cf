"""Phone numbers: international, North American, European national and Chinese mobile/landline.

A run of digits with spaces, dots, dashes and parentheses is a candidate. It is a phone
number when its shape is unmistakable —

* it starts with ``+`` or ``00`` and the ``phonenumbers`` library finds a possible number;
* it is a Chinese mobile (``1[3-9]`` + 9 digits, optionally after 86);
* it is North American (``(415) 555-0132``, ``415-555-0132``, ``415.555.0132``);
* it starts with a national trunk ``0`` (``07700 900123``, ``(021) 8106-014``, ``03.91.12.17.13``);

— or, for plainer shapes (``9380 6377``, ``4155550132``, grouped 6-digit local numbers such as
``61 60 34``), when a phone word ("call", "tel",
"fax", "电话", "手机"…) is within 40 characters and no "licence"/"order"/"account" word sits just
before it. Dates, SSN-shaped and thousands-grouped numbers are never phones.

Example:
    >>> [s.text for s in find_phones("call +86 138-0013-8000 or (415) 555-0132 on 2024-05-01")]
    ['+86 138-0013-8000', '(415) 555-0132']
"""

from __future__ import annotations

import re

import phonenumbers

from chains.moderation.pii.spans import PiiSpan, starts_token

__all__ = ["find_phones"]

_CANDIDATE = re.compile(
    r"[+(\d][\d ().\-]{5,26}\d"
    r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?(?![A-Za-z0-9_]|[.\-/]\d)"
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?)\s?\d{1,5}$")
_CONTEXT = re.compile(
    r"phone|tel\b|tel[:.]|call|cell|mobile|fax|dial|ring|reach|contact|text me|sms|"
    r"whatsapp|number|office|desk|landline|hotline|answering|messages? to|registered|"
    r"电话|手机|联系|致电|号码|热线|座机|传真|拨打|微信",
    re.IGNORECASE,
)
_NEGATIVE = re.compile(
    r"(licen[cs]e|account|acct|order|invoice|ticket|tracking|passport|serial|zip|"
    r"postcode|postal|isbn|ref|id|iban|card|ssn|订单|账号|卡号|身份证)\W{0,3}(no\.?|number|#)?\W{0,3}$",
    re.IGNORECASE,
)
_DATE = re.compile(r"^(?:\d{4}[\-./ ]\d{1,2}[\-./ ]\d{1,2}|\d{1,2}[\-./ ]\d{1,2}[\-./ ](?:19|20)\d{2})$")
_NANP = re.compile(r"^(?:\+?1[ .\-]?)?(?:\(\d{3}\) ?|\d{3}[ .\-])\d{3}[ .\-]\d{4}$")
_CN_MOBILE = re.compile(r"^(?:\+?86|0086)?1[3-9]\d{9}$")
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:([ .,])\d{3})(?:\1\d{3})*$")


def find_phones(text: str) -> list[PiiSpan]:
    """Phone numbers in ``text`` (its :func:`~.spans.pii_view`)."""
    spans = []
    for match in _CANDIDATE.finditer(text):
        candidate = _trim(match.group())
        if not starts_token(text, match.start(), also="@/+.-_") or not _well_formed(_EXTENSION.sub("", candidate)):
            continue
        start = match.start() + match.group().find(candidate)
        if _is_phone(candidate, text, start):
            spans.append(PiiSpan("PHONE", start, start + len(candidate), candidate))
    return spans


def _well_formed(candidate: str) -> bool:
    """An optional ``+``/``00`` and ``(`` up front, then digits and separators only."""
    return re.fullmatch(r"(?:\+ ?)?\(?\d[\d ().\-]*", candidate) is not None


def _trim(candidate: str) -> str:
    """Drop an unbalanced leading ``(`` (``(call 555...``) and trailing separators."""
    candidate = candidate.strip(" .-")
    if candidate.startswith("(") and ")" not in candidate:
        candidate = candidate[1:]
    return candidate


def _is_phone(candidate: str, text: str, start: int) -> bool:
    end = start + len(candidate)
    candidate = _EXTENSION.sub("", candidate)
    digits = re.sub(r"\D", "", candidate)
    if not 6 <= len(digits) <= 15 or "  " in candidate or ".." in candidate or "--" in candidate:
        return False
    if _DATE.match(candidate) or _SSN_SHAPE.match(candidate):
        return False
    if candidate.startswith(("+", "00")):
        return _possible_international(candidate)
    if _CN_MOBILE.match(digits) and re.fullmatch(r"[\d +\-]+", candidate):
        return True
    if _NANP.match(candidate):
        return True
    context = _has_context(text, start, end)
    if _THOUSANDS.match(candidate) and not context:
        return False
    if digits.startswith("0") and len(digits) >= 9 and (not digits.isdigit() or candidate != digits):
        return True  # national trunk prefix with grouping: 07700 900123, (021) 8106-014
    if digits.startswith("0") and len(digits) in (10, 11):
        return context is not False
    grouped = candidate != digits  # 6-digit local numbers only when written in groups: 61 60 34
    return bool(context) and (len(digits) >= 7 or grouped)


def _possible_international(candidate: str) -> bool:
    number = "+" + candidate[2:] if candidate.startswith("00") else candidate
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        return False


def _has_context(text: str, start: int, end: int) -> bool | None:
    """True: a phone word is near; False: a "not a phone" word is just before; None: neither."""
    before = text[max(0, start - 40) : start]
    if _NEGATIVE.search(before):
        return False
    after = text[end : end + 25]
    return True if _CONTEXT.search(before) or _CONTEXT.search(after) else None
