"""Money units. Money is always an int of base units; floats never appear."""

from __future__ import annotations

__all__ = ["COIN", "MAX_MONEY", "money_range", "format_coins", "parse_coins"]

COIN = 100_000_000
"""Base units in one coin."""

MAX_MONEY = 21_000_000 * COIN
"""No amount, sum or balance may exceed this (SPEC §1)."""


def money_range(v: int) -> bool:
    """True when 0 <= v <= MAX_MONEY (Core: MoneyRange)."""
    return 0 <= v <= MAX_MONEY


def format_coins(units: int) -> str:
    """'1.50000000' for 150_000_000 units: exact, eight decimals, no float."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(units), COIN)
    return f"{sign}{whole}.{frac:08d}"


def _ascii_digits(s: str) -> bool:
    return all("0" <= c <= "9" for c in s)


def parse_coins(text: str) -> int:
    """Base units of a decimal coin amount ('1.5' -> 150_000_000); ValueError when malformed.

    At most eight decimals; no exponent, sign or float rounding.
    """
    if not isinstance(text, str):
        raise TypeError("amounts are parsed from text, never from floats")
    whole, _, frac = text.strip().partition(".")
    if not (whole or frac) or not _ascii_digits(whole) or not _ascii_digits(frac):
        raise ValueError(f"not an amount: {text!r}")
    if len(frac) > 8:
        raise ValueError("at most 8 decimal places (1 unit = 0.00000001 coin)")
    units = int(whole or "0") * COIN + int((frac or "0").ljust(8, "0"))
    if not money_range(units):
        raise ValueError("amount exceeds 21,000,000 coins")
    return units
