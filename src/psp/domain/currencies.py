"""Which currencies psp accepts and how many minor units each has (ISO 4217).

Source: the ``iso4217`` package (https://github.com/dahlia/iso4217, public domain), which ships the
official ISO 4217 "List One" XML of the maintenance agency (SIX) verbatim and is republished whenever
that list changes; its version carries the list's publication date (1.16.20260101 = 2026-01-01).

Why not the alternatives: ``babel`` reports CLDR digits, which deliberately differ from ISO 4217 for
some codes (CLDR gives IQD 0 decimals, ISO 4217 gives 3), and amounts must follow ISO 4217 exponents
(DESIGN.md section 3); ``pycountry`` knows the codes but not their exponents.

A code is "known" when it is an active List One code with a numeric minor unit. That leaves out
the codes whose minor unit is "N.A." -- the test code XTS, "no currency" XXX, precious metals (XAU,
XAG, ...) and bond-market units (XBA, ...) -- since an amount in minor units means nothing for them.
Lookups are exact: codes are upper case, nothing is normalised here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from iso4217 import Currency

_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {currency.code: currency.exponent for currency in Currency if currency.exponent is not None}
)


def currency_exponent(code: str) -> int:
    """Return the ISO 4217 minor-unit exponent of ``code`` (2 for BRL); KeyError if it is not known."""
    return _EXPONENTS[code]


def is_known_currency(code: str) -> bool:
    """Tell whether ``code`` is an upper-case, active ISO 4217 currency with minor units."""
    return code in _EXPONENTS
