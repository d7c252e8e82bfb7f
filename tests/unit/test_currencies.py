"""ISO 4217 currency codes and their minor-unit exponents."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psp.domain.currencies import currency_exponent, is_known_currency


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("BRL", 2),
        ("USD", 2),
        ("EUR", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("CLP", 0),
        ("BHD", 3),
        ("KWD", 3),
        ("JOD", 3),
        ("TND", 3),
        ("OMR", 3),
        ("IQD", 3),  # CLDR (babel) says 0; ISO 4217 says 3, and psp follows ISO
        ("CLF", 4),
    ],
)
def test_each_currency_has_its_iso_4217_exponent(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert is_known_currency(code)


@pytest.mark.parametrize(
    "code",
    [
        "brl",
        "Brl",
        "XXX",  # "no currency"
        "XTS",  # reserved for testing
        "XAU",  # gold has no minor unit
        "XDR",
        "ZZZ",
        "HRK",  # withdrawn when Croatia adopted the euro
        "",
        "US",
        "USDD",
        " BRL",
        "BRL ",
    ],
)
def test_unknown_lower_case_and_unit_less_codes_are_not_known(code: str) -> None:
    assert not is_known_currency(code)
    with pytest.raises(KeyError):
        currency_exponent(code)


_upper_codes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)


@given(st.one_of(st.text(max_size=5), _upper_codes))
def test_a_code_has_an_exponent_exactly_when_it_is_known(code: str) -> None:
    if is_known_currency(code):
        assert len(code) == 3
        assert code.isascii()
        assert code.isupper()
        assert 0 <= currency_exponent(code) <= 4
    else:
        with pytest.raises(KeyError):
            currency_exponent(code)


@given(_upper_codes)
def test_no_code_is_known_in_lower_case(code: str) -> None:
    assert not is_known_currency(code.lower())
