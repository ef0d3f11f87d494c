"""One parser of list bounds and cursors for the REST API and the explorer (issue 11, item 9).

Every number a client sends is checked against the range SQLite and the node can hold before
any query runs: an out-of-range value is a 4xx, never an `OverflowError` (500) deep in storage.
REST routes declare their query parameters with `before_query` / `limit_query` (FastAPI answers
422 `invalid-request`), and both surfaces parse an address-history cursor with `parse_cursor`
(`BadParameter`, which REST answers 400 `bad-cursor` and the explorer with a 400 page).
"""

from __future__ import annotations

from typing import Any

from fastapi import Query

__all__ = [
    "MAX_LIST",
    "MAX_BEFORE",
    "MAX_CURSOR_CHARS",
    "BadParameter",
    "parse_cursor",
    "before_query",
    "limit_query",
    "cursor_query",
]

MAX_LIST = 100
"""Items one page lists at most."""
MAX_BEFORE = 2**63 - 1
"""Largest `before` height a list accepts (SQLite's largest INTEGER: 2**63 answered 500)."""
MAX_CURSOR_CHARS = 100
_MAX_CURSOR_INT = 2**63 - 1
_DIRECTIONS = ("in", "out")


class BadParameter(ValueError):
    """A query value outside what the node serves; `name` is the parameter."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


def parse_cursor(text: str | None) -> str | None:
    """An address-history cursor (`height:pos:direction`, the `next_cursor` of a page) checked
    for shape and range; None or "" means the first page. Raises `BadParameter('cursor')`."""
    if not text:
        return None
    if len(text) > MAX_CURSOR_CHARS:
        raise BadParameter("cursor", f"cursor is longer than {MAX_CURSOR_CHARS} characters")
    parts = text.split(":")
    if (
        len(parts) != 3
        or parts[2] not in _DIRECTIONS
        or not all(p.isascii() and p.isdigit() and len(p) <= 19 for p in parts[:2])
        or any(int(p) > _MAX_CURSOR_INT for p in parts[:2])
    ):
        raise BadParameter("cursor", "cursor must be a next_cursor from a page")
    return text


def before_query(description: str, minimum: int = 0) -> Any:
    """`before` (a height, exclusive) bounded to minimum..MAX_BEFORE."""
    return Query(None, ge=minimum, le=MAX_BEFORE, description=description)


def limit_query(default: int = 20) -> Any:
    """`limit`: 1..MAX_LIST items."""
    return Query(default, ge=1, le=MAX_LIST)


def cursor_query() -> Any:
    """`cursor`: a `next_cursor`, at most MAX_CURSOR_CHARS characters."""
    return Query(None, max_length=MAX_CURSOR_CHARS)
