"""Card validation: the rules of DESIGN.md section 4, pure and free of I/O.

PCI DSS shapes everything here: the full number and the CVV live only inside a
``CardForAuthorization``, which never shows them in ``repr``/``str`` and refuses to be pickled or
copied; what psp keeps is a ``Card`` (brand, first six, last four, holder, expiry, fingerprint).
No message raised from this module contains the number or the CVV.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final, NoReturn

from psp.lib.errors import ErrorDetail, ValidationFailed

NUMBER_PARAM: Final = "card_number"
CVC_PARAM: Final = "card_verification_code"
HOLDER_NAME_PARAM: Final = "card_holder_name"
EXPIRATION_PARAM: Final = "card_expiration_date"

MIN_NUMBER_LENGTH: Final = 12
MAX_NUMBER_LENGTH: Final = 19
MIN_HOLDER_NAME_LENGTH: Final = 2
MAX_HOLDER_NAME_LENGTH: Final = 100
MAX_YEARS_AHEAD: Final = 20

# (brand, lowest prefix, highest prefix), both prefixes of the same length, first match wins. Elo and
# Hipercard come first: their BINs sit inside the Visa (4), Discover (65) and Diners (38) ranges.
_BRAND_RANGES: Final[tuple[tuple[str, str, str], ...]] = (
    ("elo", "401178", "401179"),
    ("elo", "431274", "431274"),
    ("elo", "438935", "438935"),
    ("elo", "451416", "451416"),
    ("elo", "457393", "457393"),
    ("elo", "457631", "457632"),
    ("elo", "504175", "504175"),
    ("elo", "506699", "506778"),
    ("elo", "509000", "509999"),
    ("elo", "627780", "627780"),
    ("elo", "636297", "636297"),
    ("elo", "636368", "636368"),
    ("elo", "650031", "650033"),
    ("elo", "650035", "650051"),
    ("elo", "650405", "650439"),
    ("elo", "650485", "650538"),
    ("elo", "650541", "650598"),
    ("elo", "650700", "650718"),
    ("elo", "650720", "650727"),
    ("elo", "650901", "650978"),
    ("elo", "651652", "651679"),
    ("elo", "655000", "655019"),
    ("elo", "655021", "655058"),
    ("hipercard", "606282", "606282"),
    ("hipercard", "3841", "3841"),
    ("amex", "34", "34"),
    ("amex", "37", "37"),
    ("visa", "4", "4"),
    ("mastercard", "51", "55"),
    ("mastercard", "2221", "2720"),
    ("discover", "6011", "6011"),
    ("discover", "644", "649"),
    ("discover", "65", "65"),
    ("diners", "36", "36"),
    ("diners", "300", "305"),
    ("diners", "38", "39"),
    ("jcb", "3528", "3589"),
)

_DIGITS: Final = re.compile(r"[0-9]+")
_NUMBER_SEPARATORS: Final = re.compile(r"[\s-]+")
_EXPIRATION: Final = re.compile(r"\s*([0-9]{2})\s*/\s*([0-9]{4}|[0-9]{2})\s*")
# Tab and line breaks are ordinary whitespace in a pasted name and get collapsed; zero-width
# (non-)joiners are needed to spell some scripts. Every other control, format, surrogate, private-use
# or unassigned character is invisible or unstorable, so it is refused rather than kept.
_ALLOWED_INVISIBLE: Final = frozenset("\t\n\r\u200c\u200d")


@dataclass(frozen=True)
class Card:
    """What psp keeps of a card: safe to store, log and return."""

    brand: str
    first_six: str
    last_four: str
    holder_name: str
    expiration_month: int
    expiration_year: int
    fingerprint: str


@dataclass(frozen=True, repr=False)
class CardForAuthorization:
    """The full card, alive only for the acquirer call; it shows nothing beyond its ``Card``."""

    number: str = field(repr=False)
    cvv: str = field(repr=False)
    card: Card

    def __repr__(self) -> str:
        return f"CardForAuthorization(card={self.card!r})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        # Pickling is how data gets queued, cached or copied to disk; none of that may happen to a PAN.
        raise TypeError("CardForAuthorization holds card data and cannot be pickled or copied")


def luhn_is_valid(digits: str) -> bool:
    """Tell whether ``digits`` (ASCII digits only) passes the Luhn mod-10 check."""
    if not _DIGITS.fullmatch(digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - ord("0")
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def detect_brand(digits: str) -> str:
    """Name the brand of a digits-only card number from its prefix, or ``"unknown"``."""
    for brand, lowest, highest in _BRAND_RANGES:
        prefix = digits[: len(lowest)]
        if len(prefix) == len(lowest) and lowest <= prefix <= highest:
            return brand
    return "unknown"


def card_fingerprint(digits: str, key: bytes) -> str:
    """Return the hex HMAC-SHA256 of the digits-only card number under ``key``."""
    if not key:
        raise ValueError("the card fingerprint key must not be empty")
    normalised = _normalise_number(digits)
    if not _DIGITS.fullmatch(normalised):
        raise ValueError("card_fingerprint expects a card number made of digits")
    return hmac.new(key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


def validate_card(
    number: str,
    cvv: str,
    holder_name: str,
    expiration: str,
    *,
    today: datetime.date,
    fingerprint_key: bytes,
) -> CardForAuthorization:
    """Normalise and validate; raise ValidationFailed listing every problem."""
    digits = _normalise_number(number)
    number_problem = _number_problem(digits)
    brand = detect_brand(digits) if number_problem is None else None
    cvv = cvv.strip()
    cvv_problem = _cvv_problem(cvv, brand)
    name = " ".join(holder_name.split())
    name_problem = _holder_name_problem(holder_name, name)
    expiry = _parse_expiration(expiration, today)
    expiry_problem = expiry if isinstance(expiry, ErrorDetail) else None

    problems = [p for p in (number_problem, cvv_problem, name_problem, expiry_problem) if p is not None]
    # brand is None only when the number has a problem, so ``problems`` is never empty here.
    if problems or brand is None or isinstance(expiry, ErrorDetail):
        raise ValidationFailed.from_details(problems)
    month, year = expiry
    return CardForAuthorization(
        number=digits,
        cvv=cvv,
        card=Card(
            brand=brand,
            first_six=digits[:6],
            last_four=digits[-4:],
            holder_name=name,
            expiration_month=month,
            expiration_year=year,
            fingerprint=card_fingerprint(digits, fingerprint_key),
        ),
    )


def _normalise_number(number: str) -> str:
    return _NUMBER_SEPARATORS.sub("", number)


def _number_problem(digits: str) -> ErrorDetail | None:
    if not digits:
        return _invalid_number("card_number is required")
    if not _DIGITS.fullmatch(digits):
        return _invalid_number(
            "card_number must contain only digits, optionally separated by spaces or dashes"
        )
    if not MIN_NUMBER_LENGTH <= len(digits) <= MAX_NUMBER_LENGTH:
        return _invalid_number(
            f"card_number must have between {MIN_NUMBER_LENGTH} and {MAX_NUMBER_LENGTH} digits"
        )
    if not luhn_is_valid(digits):
        return _invalid_number("card_number failed the Luhn check")
    return None


def _invalid_number(message: str) -> ErrorDetail:
    return ErrorDetail("invalid_number", message, NUMBER_PARAM)


def _cvv_problem(cvv: str, brand: str | None) -> ErrorDetail | None:
    """Check the CVV against its brand; ``None`` brand means the number itself is invalid."""
    if not _DIGITS.fullmatch(cvv):
        return ErrorDetail("invalid_cvc", "card_verification_code must contain only digits", CVC_PARAM)
    allowed: tuple[int, ...]
    if brand == "amex":
        allowed, wording = (4,), "4 digits for an American Express card"
    elif brand is None or brand == "unknown":
        # Without a recognised brand the expected length cannot be known, so both lengths pass.
        allowed, wording = (3, 4), "3 or 4 digits"
    else:
        allowed, wording = (3,), "3 digits"
    if len(cvv) not in allowed:
        return ErrorDetail("invalid_cvc", f"card_verification_code must be {wording}", CVC_PARAM)
    return None


def _holder_name_problem(raw: str, collapsed: str) -> ErrorDetail | None:
    if any(unicodedata.category(char).startswith("C") and char not in _ALLOWED_INVISIBLE for char in raw):
        return ErrorDetail(
            "invalid_holder_name",
            "card_holder_name must not contain control or invisible characters",
            HOLDER_NAME_PARAM,
        )
    if not MIN_HOLDER_NAME_LENGTH <= len(collapsed) <= MAX_HOLDER_NAME_LENGTH:
        return ErrorDetail(
            "invalid_holder_name",
            f"card_holder_name must be between {MIN_HOLDER_NAME_LENGTH} and {MAX_HOLDER_NAME_LENGTH} "
            "characters long",
            HOLDER_NAME_PARAM,
        )
    return None


def _parse_expiration(expiration: str, today: datetime.date) -> tuple[int, int] | ErrorDetail:
    """Return (month, four-digit year), or the one problem with the expiration date."""
    match = _EXPIRATION.fullmatch(expiration)
    if match is None:
        return ErrorDetail(
            "invalid_expiry_date", "card_expiration_date must be in MM/YY or MM/YYYY format", EXPIRATION_PARAM
        )
    month, year_text = int(match.group(1)), match.group(2)
    if not 1 <= month <= 12:
        return ErrorDetail(
            "invalid_expiry_date",
            "card_expiration_date must have a month between 01 and 12",
            EXPIRATION_PARAM,
        )
    year = int(year_text)
    if len(year_text) == 2:
        # Two-digit years name the century around today, so the rule keeps working after 2099.
        year += today.year // 100 * 100
        if year < today.year - 50:
            year += 100
    # A card is good through the last day of its expiry month.
    if (year, month) < (today.year, today.month):
        return ErrorDetail(
            "expired_card", "card_expiration_date is in the past: the card has expired", EXPIRATION_PARAM
        )
    if (year, month) > (today.year + MAX_YEARS_AHEAD, today.month):
        return ErrorDetail(
            "invalid_expiry_date",
            f"card_expiration_date is more than {MAX_YEARS_AHEAD} years in the future",
            EXPIRATION_PARAM,
        )
    return month, year
