"""Card validation rules (DESIGN.md section 4), and proof that card data never leaks."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import hashlib
import hmac
import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from psp.domain.cards import (
    Card,
    CardForAuthorization,
    card_fingerprint,
    detect_brand,
    luhn_is_valid,
    validate_card,
)
from psp.lib.errors import ValidationFailed

TODAY = datetime.date(2026, 3, 15)
KEY = b"unit-test-fingerprint-key-0123456789"

VISA = "4111111111111111"
AMEX = "378282246310005"

ELO_BIN_RANGES = [
    ("401178", "401179"),
    ("431274", "431274"),
    ("438935", "438935"),
    ("451416", "451416"),
    ("457393", "457393"),
    ("457631", "457632"),
    ("504175", "504175"),
    ("506699", "506778"),
    ("509000", "509999"),
    ("627780", "627780"),
    ("636297", "636297"),
    ("636368", "636368"),
    ("650031", "650033"),
    ("650035", "650051"),
    ("650405", "650439"),
    ("650485", "650538"),
    ("650541", "650598"),
    ("650700", "650718"),
    ("650720", "650727"),
    ("650901", "650978"),
    ("651652", "651679"),
    ("655000", "655019"),
    ("655021", "655058"),
]
ELO_BINS = sorted({bin_ for bin_range in ELO_BIN_RANGES for bin_ in bin_range})


def check_digit(partial: str) -> str:
    """The Luhn check digit for ``partial``, computed independently of the code under test."""
    total = 0
    for position, char in enumerate(reversed(partial)):
        value = int(char)
        if position % 2 == 0:  # doubled once the check digit is appended on the right
            value = sum(divmod(value * 2, 10))
        total += value
    return str(-total % 10)


def luhn_number(prefix: str, length: int = 16) -> str:
    """A Luhn-valid number of ``length`` digits starting with ``prefix``."""
    partial = prefix.ljust(length - 1, "0")
    return partial + check_digit(partial)


def validate(
    number: str = VISA,
    cvv: str = "123",
    holder_name: str = "José da Silva",
    expiration: str = "12/30",
    *,
    today: datetime.date = TODAY,
    key: bytes = KEY,
) -> CardForAuthorization:
    return validate_card(number, cvv, holder_name, expiration, today=today, fingerprint_key=key)


def problems(
    number: str = VISA, cvv: str = "123", holder_name: str = "José da Silva", expiration: str = "12/30"
) -> list[tuple[str | None, str]]:
    """The (param, code) pairs reported for a card that differs from a valid one in the fields given."""
    with pytest.raises(ValidationFailed) as raised:
        validate(number, cvv, holder_name, expiration)
    return [(detail.param, detail.code) for detail in raised.value.details]


def everything_shown(error: ValidationFailed) -> str:
    return " ".join([str(error), repr(error), json.dumps(error.to_dict("req_1")), *map(str, error.args)])


# --- a valid card ---------------------------------------------------------------------------------


def test_a_valid_card_keeps_only_what_may_be_stored() -> None:
    result = validate(VISA, "123", "José da Silva", "12/30")

    assert result.number == VISA
    assert result.cvv == "123"
    assert result.card == Card(
        brand="visa",
        first_six="411111",
        last_four="1111",
        holder_name="José da Silva",
        expiration_month=12,
        expiration_year=2030,
        fingerprint=card_fingerprint(VISA, KEY),
    )


def test_spaces_and_dashes_are_stripped_from_the_number() -> None:
    result = validate(" 4111 1111-1111  1111 ")

    assert result.number == VISA
    assert result.card.first_six == "411111"
    assert result.card.last_four == "1111"


def test_the_fingerprint_ignores_separators_in_the_number() -> None:
    assert validate("4111-1111-1111-1111").card.fingerprint == validate(VISA).card.fingerprint


# --- brands ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "brand", "cvv"),
    [
        ("4111111111111111", "visa", "123"),
        ("5555555555554444", "mastercard", "123"),
        ("2223003122003222", "mastercard", "123"),
        ("378282246310005", "amex", "1234"),
        ("6011111111111117", "discover", "123"),
        ("3566002020360505", "jcb", "123"),
        ("36227206271667", "diners", "123"),
        ("30569309025904", "diners", "123"),
        ("6062825624254001", "hipercard", "123"),
        ("6362970000457013", "elo", "123"),
    ],
)
def test_each_brand_is_recognised_from_a_real_test_number(number: str, brand: str, cvv: str) -> None:
    assert validate(number, cvv).card.brand == brand


@pytest.mark.parametrize("bin_", ELO_BINS)
def test_every_elo_bin_range_endpoint_is_elo(bin_: str) -> None:
    number = luhn_number(bin_)

    assert detect_brand(number) == "elo"
    assert validate(number).card.brand == "elo"


@pytest.mark.parametrize(
    ("prefix", "brand"),
    [
        # Elo BINs inside the Visa range, and their neighbours that stay Visa
        ("401178", "elo"),
        ("401177", "visa"),
        ("401180", "visa"),
        ("438935", "elo"),
        ("438936", "visa"),
        # Elo BINs inside the Discover 65 range, and the gaps between them
        ("650031", "elo"),
        ("650034", "discover"),
        ("650404", "discover"),
        ("650719", "discover"),
        ("655020", "discover"),
        ("655059", "discover"),
        # Elo outside any other brand
        ("506698", "unknown"),
        ("506779", "unknown"),
        ("627781", "unknown"),
        # Hipercard before Diners (38) and before anything else starting with 60
        ("606282", "hipercard"),
        ("606283", "unknown"),
        ("3841", "hipercard"),
        ("3840", "diners"),
        ("3842", "diners"),
        ("39", "diners"),
        ("36", "diners"),
        ("300", "diners"),
        ("305", "diners"),
        ("306", "unknown"),
        ("34", "amex"),
        ("37", "amex"),
        ("35", "unknown"),
        ("3527", "unknown"),
        ("3528", "jcb"),
        ("3589", "jcb"),
        ("3590", "unknown"),
        ("4", "visa"),
        ("50", "unknown"),
        ("51", "mastercard"),
        ("55", "mastercard"),
        ("56", "unknown"),
        ("2220", "unknown"),
        ("2221", "mastercard"),
        ("2720", "mastercard"),
        ("2721", "unknown"),
        ("6011", "discover"),
        ("6012", "unknown"),
        ("643", "unknown"),
        ("644", "discover"),
        ("649", "discover"),
        ("65", "discover"),
        ("1", "unknown"),
        ("9", "unknown"),
    ],
)
def test_brand_ranges_check_specific_ranges_before_generic_ones(prefix: str, brand: str) -> None:
    assert detect_brand(luhn_number(prefix)) == brand


def test_a_number_too_short_for_a_prefix_is_of_unknown_brand() -> None:
    assert detect_brand("") == "unknown"
    assert detect_brand("60") == "unknown"


def test_an_unknown_number_that_passes_luhn_is_accepted_as_brand_unknown() -> None:
    number = luhn_number("9")

    assert validate(number, "123").card.brand == "unknown"
    assert validate(number, "1234").card.brand == "unknown"


# --- card_number ----------------------------------------------------------------------------------


def test_a_number_failing_luhn_is_rejected_on_card_number() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate("4111111111111112")

    assert raised.value.code == "invalid_number"
    assert raised.value.param == "card_number"
    assert raised.value.message == "card_number failed the Luhn check"


@pytest.mark.parametrize(
    "number",
    [
        "",
        "   ",
        "- -",
        "4111a11111111111",
        "4111.1111.1111.1111",
        # Arabic-Indic and full-width digits are digits to Python, not to a card network
        "".join(chr(ord(char) - ord("0") + 0x0660) for char in VISA),
        "".join(chr(ord(char) - ord("0") + 0xFF10) for char in VISA),
        luhn_number("4", 11),
        luhn_number("4", 20),
    ],
    ids=["empty", "blank", "only-separators", "letter", "dots", "arabic-digits", "fullwidth", "11", "20"],
)
def test_a_malformed_number_is_rejected_on_card_number(number: str) -> None:
    assert problems(number=number) == [("card_number", "invalid_number")]


@pytest.mark.parametrize("length", [12, 13, 15, 16, 19])
def test_numbers_of_12_to_19_digits_are_accepted(length: int) -> None:
    assert validate(luhn_number("4", length)).card.brand == "visa"


# --- card_verification_code -----------------------------------------------------------------------


@pytest.mark.parametrize("cvv", ["", "1", "12", "1234", "12345", "12a", "1 23", "١٢٣"])
def test_a_visa_needs_a_three_digit_cvv(cvv: str) -> None:
    assert problems(number=VISA, cvv=cvv) == [("card_verification_code", "invalid_cvc")]


@pytest.mark.parametrize("cvv", ["123", "12345", "12a4"])
def test_an_amex_needs_exactly_a_four_digit_cvv(cvv: str) -> None:
    assert problems(number=AMEX, cvv=cvv) == [("card_verification_code", "invalid_cvc")]


def test_an_amex_with_four_digits_is_accepted() -> None:
    assert validate(AMEX, "1234").cvv == "1234"


def test_surrounding_spaces_are_stripped_from_the_cvv() -> None:
    assert validate(cvv=" 123 ").cvv == "123"


@pytest.mark.parametrize("cvv", ["123", "1234"])
def test_when_the_number_is_invalid_a_cvv_of_three_or_four_digits_is_not_blamed(cvv: str) -> None:
    assert problems(number="4111111111111112", cvv=cvv) == [("card_number", "invalid_number")]


@pytest.mark.parametrize("cvv", ["12", "12345", "abc"])
def test_when_the_number_is_invalid_a_cvv_of_another_length_is_still_rejected(cvv: str) -> None:
    assert problems(number="1234", cvv=cvv) == [
        ("card_number", "invalid_number"),
        ("card_verification_code", "invalid_cvc"),
    ]


# --- card_expiration_date -------------------------------------------------------------------------


def test_a_card_expiring_this_month_is_valid() -> None:
    card = validate(expiration="03/26", today=datetime.date(2026, 3, 31)).card

    assert (card.expiration_month, card.expiration_year) == (3, 2026)


def test_a_card_that_expired_last_month_is_rejected_as_expired() -> None:
    assert problems(expiration="02/26") == [("card_expiration_date", "expired_card")]


def test_a_card_expiring_in_december_is_valid_on_new_years_eve_and_expired_on_new_years_day() -> None:
    assert validate(expiration="12/26", today=datetime.date(2026, 12, 31)).card.expiration_year == 2026
    with pytest.raises(ValidationFailed) as raised:
        validate(expiration="12/26", today=datetime.date(2027, 1, 1))
    assert raised.value.code == "expired_card"


def test_a_january_expiry_is_valid_in_the_december_before() -> None:
    card = validate(expiration="01/27", today=datetime.date(2026, 12, 31)).card

    assert (card.expiration_month, card.expiration_year) == (1, 2027)


def test_a_four_digit_year_is_accepted() -> None:
    card = validate(expiration="07/2031").card

    assert (card.expiration_month, card.expiration_year) == (7, 2031)


def test_surrounding_spaces_are_tolerated_in_the_expiration_date() -> None:
    card = validate(expiration="  07 / 31 ").card

    assert (card.expiration_month, card.expiration_year) == (7, 2031)


def test_a_two_digit_year_belongs_to_the_century_around_today() -> None:
    card = validate(expiration="01/05", today=datetime.date(2099, 6, 1)).card

    assert card.expiration_year == 2105


def test_an_expiry_exactly_twenty_years_ahead_is_valid() -> None:
    assert validate(expiration="03/2046").card.expiration_year == 2046


def test_an_expiry_more_than_twenty_years_ahead_is_invalid() -> None:
    assert problems(expiration="04/2046") == [("card_expiration_date", "invalid_expiry_date")]


@pytest.mark.parametrize(
    "expiration", ["", "1230", "12-30", "12/3", "1/30", "12/203", "12/20301", "ab/cd", "12//30", "١٢/٣٠"]
)
def test_a_malformed_expiration_date_is_rejected(expiration: str) -> None:
    assert problems(expiration=expiration) == [("card_expiration_date", "invalid_expiry_date")]


@pytest.mark.parametrize("expiration", ["00/30", "13/30", "99/2030"])
def test_a_month_outside_01_to_12_is_rejected(expiration: str) -> None:
    assert problems(expiration=expiration) == [("card_expiration_date", "invalid_expiry_date")]


# --- card_holder_name -----------------------------------------------------------------------------


def test_the_holder_name_is_stripped_and_its_whitespace_collapsed() -> None:
    assert validate(holder_name="  José   da\tSilva \n").card.holder_name == "José da Silva"


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Ünal",
        "José da Silva",
        "Li",
        "O'Brien-Smith Jr.",
        "王小明",
        "\u0645\u0647\u0631\u200c\u0646\u0627\u0632",
    ],
)
def test_unicode_holder_names_are_accepted(name: str) -> None:
    assert validate(holder_name=name).card.holder_name == name


def test_a_holder_name_of_100_characters_is_accepted() -> None:
    assert len(validate(holder_name="A" * 100).card.holder_name) == 100


@pytest.mark.parametrize("name", ["", "   ", "A", " A \t", "A" * 101, "A " * 50 + "B"])
def test_a_holder_name_shorter_than_2_or_longer_than_100_characters_is_rejected(name: str) -> None:
    assert problems(holder_name=name) == [("card_holder_name", "invalid_holder_name")]


@pytest.mark.parametrize(
    "name",
    ["Jos\x00e Silva", "Ana\x1b[31m Red", "Ana\x7fB", "Ana\x1cB", "\u202eavliS", "Ana\ufeffB", "Ana\ud800B"],
    ids=["nul", "escape", "delete", "file-separator", "bidi-override", "bom", "lone-surrogate"],
)
def test_a_holder_name_with_control_characters_is_rejected(name: str) -> None:
    assert problems(holder_name=name) == [("card_holder_name", "invalid_holder_name")]


# --- several problems at once ---------------------------------------------------------------------


def test_every_problem_is_reported_together_in_details() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate("4111111111111112", "12", "A", "13/30")

    error = raised.value
    assert [(detail.param, detail.code) for detail in error.details] == [
        ("card_number", "invalid_number"),
        ("card_verification_code", "invalid_cvc"),
        ("card_holder_name", "invalid_holder_name"),
        ("card_expiration_date", "invalid_expiry_date"),
    ]
    assert (error.param, error.code) == ("card_number", "invalid_number")
    assert error.http_status == 400
    assert len(error.to_dict()["error"]["details"]) == 4


def test_an_expired_card_with_a_wrong_cvc_reports_both() -> None:
    assert problems(cvv="1", expiration="01/20") == [
        ("card_verification_code", "invalid_cvc"),
        ("card_expiration_date", "expired_card"),
    ]


# --- card data never leaks ------------------------------------------------------------------------


def test_the_card_for_authorization_shows_only_its_card() -> None:
    result = validate(AMEX, "9173", expiration="12/30")
    expected = f"CardForAuthorization(card={result.card!r})"

    for shown in (repr(result), str(result), f"{result}", f"{result!r}", repr([result])):
        assert expected in shown
        assert AMEX not in shown
        assert "9173" not in shown
        assert "number" not in shown
        assert "cvv" not in shown


def test_the_stored_card_contains_neither_the_number_nor_the_cvv() -> None:
    card = validate(AMEX, "9173").card

    assert AMEX not in repr(card)
    assert "9173" not in repr(card)
    assert AMEX[6:-4] not in repr(card)


def test_the_card_for_authorization_cannot_be_pickled_or_copied() -> None:
    result = validate()

    with pytest.raises(TypeError):
        pickle.dumps(result)
    with pytest.raises(TypeError):
        copy.deepcopy(result)


def test_no_error_repeats_the_number_or_the_cvv() -> None:
    number, cvv = "4111 1111 1111 1112", "98765"
    with pytest.raises(ValidationFailed) as raised:
        validate(number, cvv, "A", "00/00")

    shown = everything_shown(raised.value)
    assert "4111111111111112" not in shown
    assert number not in shown
    assert cvv not in shown
    assert "111111" not in shown


def test_an_error_about_the_cvv_of_a_valid_number_does_not_repeat_the_number() -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate(AMEX, "123")

    assert AMEX not in everything_shown(raised.value)


# --- fingerprint ----------------------------------------------------------------------------------


def test_the_fingerprint_is_the_hex_hmac_sha256_of_the_number() -> None:
    expected = hmac.new(KEY, VISA.encode(), hashlib.sha256).hexdigest()

    assert card_fingerprint(VISA, KEY) == expected
    assert len(expected) == 64


def test_the_same_card_with_another_expiry_and_holder_has_the_same_fingerprint() -> None:
    first = validate(holder_name="Ana", expiration="01/30").card.fingerprint
    second = validate(holder_name="Bia", expiration="02/31").card.fingerprint

    assert first == second


def test_different_numbers_have_different_fingerprints() -> None:
    assert card_fingerprint(VISA, KEY) != card_fingerprint("5555555555554444", KEY)


def test_an_empty_fingerprint_key_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        card_fingerprint(VISA, b"")


def test_fingerprinting_something_other_than_digits_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="digits") as raised:
        card_fingerprint("4111x11111111111", KEY)

    assert "4111x11111111111" not in str(raised.value)


# --- Luhn -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("digits", [VISA, AMEX, "0", "00", "18", "79927398713"])
def test_luhn_accepts_valid_numbers(digits: str) -> None:
    assert luhn_is_valid(digits)


@pytest.mark.parametrize("digits", ["", "1", "4111111111111112", "79927398710", "4111 1111 1111 1111", "٤٢"])
def test_luhn_rejects_invalid_or_non_digit_input(digits: str) -> None:
    assert not luhn_is_valid(digits)


# --- properties -----------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789", min_size=1, max_size=40))
def test_luhn_agrees_with_appending_the_correct_check_digit(partial: str) -> None:
    correct = check_digit(partial)

    for digit in "0123456789":
        assert luhn_is_valid(partial + digit) == (digit == correct)


_digit_strings = st.text(alphabet="0123456789", min_size=12, max_size=19)
_numbers = st.one_of(
    st.text(),
    _digit_strings,
    _digit_strings.map(lambda digits: luhn_number(digits[:-1], len(digits))),
    st.text(alphabet="0123456789 -", min_size=12, max_size=30),
)


@given(
    number=_numbers,
    cvv=st.one_of(st.text(), st.text(alphabet="0123456789", min_size=3, max_size=4)),
    holder_name=st.text(),
    expiration=st.one_of(st.text(), st.from_regex(r"[0-9]{2}/([0-9]{2}|[0-9]{4})", fullmatch=True)),
    today=st.dates(),
)
def test_any_input_either_validates_or_fails_validation_without_echoing_the_number(
    number: str, cvv: str, holder_name: str, expiration: str, today: datetime.date
) -> None:
    digits = "".join(char for char in number if char in "0123456789")
    try:
        result = validate_card(number, cvv, holder_name, expiration, today=today, fingerprint_key=KEY)
    except ValidationFailed as raised:
        error = raised
    else:
        assert result.number == digits
        assert repr(result) == str(result) == f"CardForAuthorization(card={result.card!r})"
        # The holder may type anything, digits included; only the rest must be free of the number.
        assert digits not in repr(dataclasses.replace(result.card, holder_name=""))
        return
    assert error.details
    if len(digits) >= 12:
        assert digits not in everything_shown(error)
        assert all(digits not in detail.message for detail in error.details)


_keys = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=16, max_size=64).map(
    str.encode
)


@given(number=_digit_strings, key=_keys, other_key=_keys)
def test_the_fingerprint_is_stable_per_key_and_differs_across_keys(
    number: str, key: bytes, other_key: bytes
) -> None:
    fingerprint = card_fingerprint(number, key)

    assert card_fingerprint(number, key) == fingerprint
    assert (card_fingerprint(number, other_key) == fingerprint) == (key == other_key)
    assert number not in fingerprint
