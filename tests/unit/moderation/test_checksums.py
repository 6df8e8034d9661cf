"""Check digits: valid identifiers pass, one changed character fails."""

from __future__ import annotations

import pytest

from chains.moderation.pii import cn_id_valid, iban_valid, luhn_valid, ssn_valid


@pytest.mark.parametrize(
    "number",
    [
        "4111111111111111",
        "5555555555554444",
        "378282246310005",
        "6011111111111117",
        "3530111333300000",
        "6200000000000005",
    ],
)
def test_luhn_accepts_real_test_cards(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "5555555555554445", "1234567812345678", "41111111a1111111"])
def test_luhn_rejects_changed_digits(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    "iban",
    [
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "FR1420041010050500013M02606",
        "NL91ABNA0417164300",
        "gb82west12345698765432",
    ],
)
def test_iban_accepts_valid(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban", ["GB82WEST12345698765433", "GB82WEST1234569876543", "DE89370400440532013001", "XX82WEST12345698765432"]
)
def test_iban_rejects_bad_checksum_length_or_country(iban: str) -> None:
    assert not iban_valid(iban)


@pytest.mark.parametrize("number", ["11010519491231002X", "110101199003077897", "440308199901010012"])
def test_cn_id_accepts_valid(number: str) -> None:
    assert cn_id_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        "11010519491231002Y",
        "110101199003077898",  # check digit
        "110101199002307896",  # 30 February
        "010101199003077897",
        "11010519491231002",
    ],
)  # region 0, short
def test_cn_id_rejects_invalid(number: str) -> None:
    assert not cn_id_valid(number)


def test_ssn_rules() -> None:
    assert ssn_valid("078", "05", "1120")
    assert not ssn_valid("666", "05", "1120")
    assert not ssn_valid("900", "05", "1120")
    assert not ssn_valid("078", "00", "1120")
    assert not ssn_valid("078", "05", "0000")
