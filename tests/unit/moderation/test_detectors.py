"""Each PII detector on text it must find and text it must leave alone."""

from __future__ import annotations

import pytest

from chains.moderation.pii import PiiDetector

DETECTOR = PiiDetector(["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS", "CN_ID", "US_SSN", "ADDRESS"])


def found(text: str) -> list[tuple[str, str]]:
    return [(span.type, span.text) for span in DETECTOR.detect(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail ann.lee+news@mail.example.co.uk today", ("EMAIL", "ann.lee+news@mail.example.co.uk")),
        ("邮箱是zhang.wei@example.cn谢谢", ("EMAIL", "zhang.wei@example.cn")),
        ("call +86 138 0013 8000 now", ("PHONE", "+86 138 0013 8000")),
        ("手机：+86-138-0013-8000", ("PHONE", "+86-138-0013-8000")),
        ("手机13800138000，谢谢", ("PHONE", "13800138000")),
        ("手机号 139 1234 5678", ("PHONE", "139 1234 5678")),
        ("ring (415) 555-0132 please", ("PHONE", "(415) 555-0132")),
        ("UK office +44 20 7946 0958", ("PHONE", "+44 20 7946 0958")),
        ("座机 010-6552 9988", ("PHONE", "010-6552 9988")),
        ("card 4111 1111 1111 1111 exp 12/27", ("CREDIT_CARD", "4111 1111 1111 1111")),
        ("amex 3782-822463-10005", ("CREDIT_CARD", "3782-822463-10005")),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
        ("pay to DE89370400440532013000.", ("IBAN", "DE89370400440532013000")),
        ("card 4111 1111 1111 1111 or IBAN GB82 WEST 1234 5698 7654 32", ("IBAN", "GB82 WEST 1234 5698 7654 32")),
        ("server 203.0.113.42 is down", ("IP_ADDRESS", "203.0.113.42")),
        ("v6 2001:db8:85a3::8a2e:370:7334 too", ("IP_ADDRESS", "2001:db8:85a3::8a2e:370:7334")),
        ("身份证号11010519491231002X。", ("CN_ID", "11010519491231002X")),
        ("SSN 078-05-1120 on file", ("US_SSN", "078-05-1120")),
        ("my ssn is 078051120", ("US_SSN", "078051120")),
        ("I live at 221B Baker Street, London", ("ADDRESS", "221B Baker Street")),
        ("寄到上海市浦东新区世纪大道100号2栋301室", ("ADDRESS", "上海市浦东新区世纪大道100号2栋301室")),
    ],
)
def test_detects(text: str, expected: tuple[str, str]) -> None:
    assert expected in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112 (Luhn fails)",
        "IBAN GB82 WEST 1234 5698 7654 33 (checksum fails)",
        "ID 11010519491231002Y (check digit fails)",
        "SSN 666-05-1120 (area 666 is never issued)",
        "not an address: 999.12.1.1, version 1.2.3.4.5",
        "C++ std::vector and a::b, time 12:30:45",
        "meeting on 2024-05-01 at 10:30, total 1 000 000 yuan",
        "order number 4155550132 shipped",
        "the year 1995 had 365 days",
    ],
)
def test_ignores(text: str) -> None:
    assert found(text) == []


def test_offsets_point_into_the_original_text() -> None:
    text = "电话：１３８００１３８０００"  # full-width digits
    [span] = DETECTOR.detect(text)
    assert span.type == "PHONE" and text[span.start : span.end] == "１３８００１３８０００"


def test_overlaps_prefer_check_digit_types() -> None:
    # 18 digits: a valid resident ID that a looser phone/card pattern would also like.
    assert found("号码 440308199901010012") == [("CN_ID", "440308199901010012")]


def test_unknown_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown PII types"):
        PiiDetector(["PASSPORT"])
