"""Pattern detectors for structured PII: e-mail, cards, IBAN, IP, Chinese ID, US SSN, addresses.

Each ``find_*`` function takes the :func:`~.spans.pii_view` of a text and returns
:class:`~.spans.PiiSpan` objects. A regular expression proposes candidates; check digits
(:mod:`.checksums`) or a parser (:mod:`ipaddress`) decide. Word boundaries are ASCII-only, so a
number glued to Chinese text (``手机13800138000``) is still found.

Example:
    >>> [s.type for s in find_cards("card 4111 1111 1111 1111, not 4111 1111 1111 1112")]
    ['CREDIT_CARD']
"""

from __future__ import annotations

import ipaddress
import re

from chains.moderation.pii.checksums import IBAN_LENGTHS, cn_id_valid, iban_valid, luhn_valid, ssn_valid
from chains.moderation.pii.spans import PiiSpan, starts_token

__all__ = ["find_addresses", "find_cards", "find_cn_ids", "find_emails", "find_ibans", "find_ips", "find_ssns"]

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+"
    r"(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_CARD = re.compile(r"\d(?:[ \-]?\d){11,22}(?![A-Za-z0-9]|[\-.]\d)")
_DIGIT_RUN = re.compile(r"\d+")
_IBAN = re.compile(r"\d\d(?: ?[A-Za-z0-9]){10,32}", re.ASCII)  # from the check digits on
_IPV4 = re.compile(r"\d{1,3}\.(?:\d{1,3}\.){2}\d{1,3}(?![A-Za-z0-9]|\.\d)")
_IPV6 = re.compile(
    r"(?<![A-Za-z0-9:.])(?=[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:)[0-9A-Fa-f:.]{3,45}"
    r"(?![A-Za-z0-9:])"
)
_CN_ID = re.compile(r"(\d{6})[ \-]?(\d{8})[ \-]?(\d{3}[\dXx])(?![A-Za-z0-9])")
_SSN = re.compile(r"(\d{3})([\- ])(\d{2})\2(\d{4})(?![A-Za-z0-9]|-\d)")
_SSN_PLAIN = re.compile(r"(\d{3})(\d{2})(\d{4})(?![A-Za-z0-9])")
_SSN_CONTEXT = re.compile(r"ssn|social security|社会安全号|社会保障号", re.IGNORECASE)

_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"square|sq|terrace|ter|parkway|pkwy|highway|hwy|circle|cir|trail|trl|crescent|cres|"
    r"close|row|alley|plaza|loop|path|pike|walk|mews|gardens|grove|hill|park|ridge|"
    r"locks?|crossing|junction|estates?|heights|landing|meadows?|station|track|via"
)
_UNIT = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|room|rm|floor|fl|#)\.?\s*#?[A-Za-z0-9\-]+)?"
_ADDRESSES = (
    # 1600 Pennsylvania Avenue NW, Apt. 4 / 221B Baker Street
    re.compile(
        rf"(?<![A-Za-z0-9])\d{{1,6}}[A-Za-z]?(?:-\d+)?\s+(?:[A-Za-z][A-Za-z'.\-]*\s+){{0,4}}?"
        rf"(?:{_STREET_TYPES})\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?{_UNIT}(?![A-Za-z])",
        re.IGNORECASE,
    ),
    # 46 rue Nationale / 12 Calle Mayor
    re.compile(
        r"(?<![A-Za-z0-9])\d{1,5}\s*,?\s+(?:rue|via|calle|avenida|viale|rua|avenue|boulevard)"
        r"\s+(?:d[eu']s?\s+|la\s+|del\s+)?[A-Z][\w'\-]+(?:\s+[A-Z][\w'\-]+){0,3}" + _UNIT
    ),
    # Wilgenlaan 40 / Hauptstraße 5a / Orrspelsv 49
    re.compile(
        r"(?<![A-Za-z0-9])[A-Z][a-zäöüßåéè\-]*(?:straat|laan|weg|gasse|strasse|straße|str\.|vej|"
        r"gatan|gata|vägen|gade|plein|kade|veien|gränd|allee|platz|katu)"
        r"\s+\d{1,5}[A-Za-z]?(?:\s*-\s*\d+)?" + _UNIT
    ),
    # P.O. Box 1234
    re.compile(r"(?<![A-Za-z0-9])P\.?\s?O\.?\s+Box\s+\d{1,6}", re.IGNORECASE),
    # 北京市朝阳区建国路88号3栋2单元501室
    re.compile(
        r"(?:[\u4e00-\u9fff]{2,8}?(?:省|自治区|市|区|县|镇|乡)){0,4}[\u4e00-\u9fff]{1,10}?"
        r"(?:路|街|大道|大街|巷|弄|胡同|里)\d{1,5}号(?:院)?"
        r"(?:\d{1,4}(?:号楼|栋|幢|座|单元|层|楼|室|号))*"
    ),
)
#: A cheap search per address pattern; the pattern runs only when its gate finds something.
_ADDRESS_GATES = (
    re.compile(rf"\d[A-Za-z]?\s+(?:[A-Za-z][A-Za-z'.\-]*\s+){{0,4}}?(?:{_STREET_TYPES})\b", re.IGNORECASE),
    re.compile(r"\d\s*,?\s+(?:[Rr]ue|[Vv]ia|[Cc]alle|[Aa]venida|[Vv]iale|[Rr]ua|[Aa]venue|[Bb]oulevard)\s"),
    re.compile(r"\d"),
    re.compile(r"[Bb][Oo][Xx]\s+\d"),
    re.compile(r"号"),
)

#: Words that lead into a Chinese address without being part of it ("寄到", "住在").
_CN_LEAD = re.compile(
    r"(?:请|麻烦|我|家|收货|送货|联系|通讯|详细|邮寄|快递)*(?:寄到|寄往|寄至|送到|送往|发到|发往|"
    r"邮到|住在|位于|地址是|地址为|地址|住址|家住|我住|在|到|至|往|是)*"
)


def find_emails(text: str) -> list[PiiSpan]:
    """E-mail addresses (ASCII local part and domain with a letter TLD), searched around each ``@``."""
    spans: list[PiiSpan] = []
    at = text.find("@")
    while at != -1:
        start = max(at - 64, spans[-1].end if spans else 0)
        match = _EMAIL.search(text, start, at + 256)
        if match and match.start() <= at < match.end():
            spans.append(PiiSpan("EMAIL", match.start(), match.end(), match.group()))
        at = text.find("@", at + 1)
    return spans


def find_cards(text: str) -> list[PiiSpan]:
    """Payment card numbers: 12–19 digits, a card issuer prefix, Luhn check digit.

    Space/dash groups are allowed; when a candidate runs on (a card followed by its CVV), the
    longest prefix of whole groups that is a valid card is taken.
    """
    spans = []
    for match in _CARD.finditer(text):
        if not starts_token(text, match.start(), also="-."):
            continue
        end = _longest_valid_prefix(match.group(), _is_card)
        if end:
            spans.append(PiiSpan("CREDIT_CARD", match.start(), match.start() + end, match.group()[:end]))
    return spans


def _is_card(digits: str) -> bool:
    issuer = digits[0] in "23456" or digits.startswith(("1800", "2131"))  # 1800/2131: 15-digit JCB
    return 12 <= len(digits) <= 19 and issuer and luhn_valid(digits)


def _longest_valid_prefix(candidate: str, valid) -> int:
    """Length of the longest prefix of ``candidate`` ending at a group end that ``valid`` accepts."""
    ends = [m.start() for m in re.finditer(r"[ \-]", candidate)] + [len(candidate)]
    for end in sorted(ends, reverse=True):
        if valid(re.sub(r"[ \-]", "", candidate[:end])):
            return end
    return 0


def find_ibans(text: str) -> list[PiiSpan]:
    """IBANs, compact or in groups of four, checked against the country length and mod 97."""
    spans = []
    for run in _DIGIT_RUN.finditer(text):  # check digits start a digit run right after two letters
        if run.start() < 2 or not text[run.start() - 2 : run.start()].isalpha():
            continue
        match = _IBAN.match(text, run.start())
        if match is None:
            continue
        start = match.start() - 2
        country = text[max(start, 0) : match.start()].upper()
        length = IBAN_LENGTHS.get(country)
        if start < 0 or not length or not starts_token(text, start):
            continue
        candidate = country + match.group()
        end, count = 0, 0
        for index, char in enumerate(candidate):
            count += char != " "
            if count == length:
                end = index + 1
                break
        if end and iban_valid(candidate[:end].replace(" ", "")) and not _glued(text, start + end):
            spans.append(PiiSpan("IBAN", start, start + end, text[start : start + end]))
    return spans


def _glued(text: str, end: int) -> bool:
    return end < len(text) and text[end].isascii() and text[end].isalnum()


def find_ips(text: str) -> list[PiiSpan]:
    """IPv4 and IPv6 addresses (IPv6 needs three or more non-empty groups; loopback is skipped)."""
    spans = []
    for match in _IPV4.finditer(text):
        if starts_token(text, match.start(), also=".") and _parses(match.group(), ipaddress.IPv4Address):
            spans.append(PiiSpan("IP_ADDRESS", match.start(), match.end(), match.group()))
    for match in _IPV6.finditer(text) if text.count(":") >= 2 else ():
        candidate = match.group().rstrip(".")
        groups = [g for g in candidate.split(":") if g]
        if len(groups) >= 3 and _parses(candidate, ipaddress.IPv6Address):
            spans.append(PiiSpan("IP_ADDRESS", match.start(), match.start() + len(candidate), candidate))
    return spans


def _parses(candidate: str, kind: type) -> bool:
    try:
        return not kind(candidate).is_loopback
    except ValueError:
        return False


def find_cn_ids(text: str) -> list[PiiSpan]:
    """Chinese resident ID numbers (18 characters, real birth date, GB 11643 check digit)."""
    return [
        PiiSpan("CN_ID", m.start(), m.end(), m.group())
        for m in _CN_ID.finditer(text)
        if starts_token(text, m.start()) and cn_id_valid("".join(m.groups()))
    ]


def find_ssns(text: str) -> list[PiiSpan]:
    """US SSNs written ``123-45-6789`` / ``123 45 6789``, or as 9 digits after "SSN"."""
    spans = [
        PiiSpan("US_SSN", m.start(), m.end(), m.group())
        for m in _SSN.finditer(text)
        if starts_token(text, m.start(), also="-") and ssn_valid(m.group(1), m.group(3), m.group(4))
    ]
    for match in _SSN_PLAIN.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if starts_token(text, match.start()) and _SSN_CONTEXT.search(before) and ssn_valid(*match.groups()):
            spans.append(PiiSpan("US_SSN", match.start(), match.end(), match.group()))
    return spans


def find_addresses(text: str) -> list[PiiSpan]:
    """Street addresses: US/UK style, French/Spanish, Dutch/German/Nordic, PO boxes, Chinese."""
    spans = []
    for gate, pattern in zip(_ADDRESS_GATES, _ADDRESSES, strict=True):
        if not gate.search(text):
            continue
        for match in pattern.finditer(text):
            lead = _CN_LEAD.match(match.group())  # every part is optional: it always matches
            start = match.start() + (lead.end() if lead else 0)
            if match.end() - start >= 6:
                spans.append(PiiSpan("ADDRESS", start, match.end(), text[start : match.end()]))
    return spans
