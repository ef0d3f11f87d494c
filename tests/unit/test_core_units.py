"""Money units: exact decimal formatting and parsing, never a float."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from powchain.core.units import COIN, MAX_MONEY, format_coins, money_range, parse_coins


@pytest.mark.parametrize(
    ("units", "text"),
    [
        (0, "0.00000000"),
        (1, "0.00000001"),
        (150_000_000, "1.50000000"),
        (COIN, "1.00000000"),
        (MAX_MONEY, "21000000.00000000"),
        (-1, "-0.00000001"),
    ],
)
def test_format_coins_exact(units: int, text: str) -> None:
    assert format_coins(units) == text


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("1.5", 150_000_000),
        ("0.00000001", 1),
        ("21000000", MAX_MONEY),
        ("21000000.00000000", MAX_MONEY),
        ("0", 0),
        (".5", 50_000_000),
        ("1.", COIN),
        (" 2.25 ", 225_000_000),
        ("0.1", 10_000_000),  # exact: no binary float rounding
    ],
)
def test_parse_coins_exact(text: str, units: int) -> None:
    assert parse_coins(text) == units


@pytest.mark.parametrize(
    "text",
    ["1e5", "-1", "+1", "0.000000001", "", ".", "1.2.3", "1,5", "abc", "0x10", "1_000", "nan"],
)
def test_parse_coins_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError):
        parse_coins(text)


def test_parse_coins_rejects_above_max_money() -> None:
    with pytest.raises(ValueError, match="21,000,000"):
        parse_coins("21000000.00000001")


def test_parse_coins_rejects_floats_with_type_error() -> None:
    with pytest.raises(TypeError):
        parse_coins(1.5)  # type: ignore[arg-type]


def test_parse_coins_never_accepts_floats() -> None:
    with pytest.raises((TypeError, ValueError, AttributeError)):
        parse_coins(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["\u0663", "\uff11"])
def test_parse_coins_rejects_non_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError):
        parse_coins(text)


@given(st.integers(min_value=0, max_value=MAX_MONEY))
def test_round_trip(units: int) -> None:
    assert parse_coins(format_coins(units)) == units


def test_money_range() -> None:
    assert money_range(0)
    assert money_range(MAX_MONEY)
    assert not money_range(MAX_MONEY + 1)
    assert not money_range(-1)
