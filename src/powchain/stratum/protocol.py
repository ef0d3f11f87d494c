"""Stratum v1 on the wire: newline-terminated JSON-RPC, the error codes miners expect, and
share difficulty.

Messages are the ones ckpool, NOMP (`node-stratum-pool`) and public-pool implement: a request
is `{"id", "method", "params": [...]}`, a response `{"id", "result", "error"}` where `error`
is `[code, message, null]` or null, a notification a request with `"id": null`. Pure: no I/O.

Share difficulty (Bitcoin's "pool difficulty"): difficulty 1 is the target 0xffff * 2**208,
and a share of difficulty `d` must hash to at most that target / d (about d * 2**32 hashes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OTHER",
    "STALE",
    "DUPLICATE",
    "LOW_DIFFICULTY",
    "UNAUTHORIZED",
    "NOT_SUBSCRIBED",
    "ERROR_NAMES",
    "StratumError",
    "Request",
    "parse_request",
    "encode_response",
    "encode_notification",
    "DIFF1_TARGET",
    "difficulty_to_target",
    "target_to_difficulty",
    "word_swap",
    "hex_u32",
    "parse_hex",
    "parse_u32",
]

OTHER = 20
STALE = 21  # job not found (stale)
DUPLICATE = 22
LOW_DIFFICULTY = 23
UNAUTHORIZED = 24
NOT_SUBSCRIBED = 25
ERROR_NAMES = {
    OTHER: "other",
    STALE: "stale",
    DUPLICATE: "duplicate",
    LOW_DIFFICULTY: "low-difficulty",
    UNAUTHORIZED: "unauthorized",
    NOT_SUBSCRIBED: "not-subscribed",
}
"""Code -> the reason name used in statistics and metrics."""

DIFF1_TARGET = 0xFFFF << 208
"""The target of share difficulty 1 (Bitcoin's bdiff 1, as cpuminer and cgminer use it)."""
MAX_ID_LENGTH = 64
"""A request id longer than this (as JSON) is refused: it is echoed in every answer."""


class StratumError(Exception):
    """A refused request: `code` (20-25) and a message for the miner's log."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return ERROR_NAMES.get(self.code, "other")


@dataclass(frozen=True, slots=True)
class Request:
    """One parsed line: `id` (int, str or None), `method`, `params` (a list)."""

    id: int | str | None
    method: str
    params: list[Any]


def parse_request(line: bytes) -> Request:
    """Parse one line (without its newline); StratumError(OTHER) when it is not a request.

    A request is a JSON object with a string `method` (<= 64 characters), `params` a list
    (a missing one is an empty list) and `id` an int, a string (<= 64 characters) or null.
    """
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise StratumError(OTHER, "malformed JSON") from exc
    if not isinstance(doc, dict):
        raise StratumError(OTHER, "a request is a JSON object")
    method, params, rid = doc.get("method"), doc.get("params", []), doc.get("id")
    if not isinstance(method, str) or not 0 < len(method) <= 64:
        raise StratumError(OTHER, "a request needs a method name")
    if params is None:
        params = []
    if not isinstance(params, list):
        raise StratumError(OTHER, "params must be a list")
    if isinstance(rid, bool) or not (rid is None or isinstance(rid, int | str)):
        raise StratumError(OTHER, "id must be a number, a string or null")
    if isinstance(rid, str) and len(rid) > MAX_ID_LENGTH:
        raise StratumError(OTHER, "id too long")
    if isinstance(rid, int) and not -(2**53) <= rid <= 2**53:
        raise StratumError(OTHER, "id out of range")
    return Request(rid, method, params)


def encode_response(rid: int | str | None, result: Any, error: StratumError | None) -> bytes:
    """A response line: `{"id", "result", "error": [code, message, null] | null}` + newline."""
    err = None if error is None else [error.code, error.message, None]
    return json.dumps({"id": rid, "result": result, "error": err}).encode() + b"\n"


def encode_notification(method: str, params: list[Any]) -> bytes:
    """A server-to-miner notification line (`"id": null`)."""
    return json.dumps({"id": None, "method": method, "params": params}).encode() + b"\n"


def difficulty_to_target(difficulty: float) -> int:
    """The share target of `difficulty` (> 0): floor(DIFF1_TARGET / difficulty), capped at
    2**256 - 1. ValueError for a difficulty that is not a positive finite number."""
    if not difficulty > 0 or difficulty == float("inf"):
        raise ValueError(f"share difficulty must be positive, got {difficulty!r}")
    # exact for the usual decimal difficulties: scale to an integer ratio first
    num, den = float(difficulty).as_integer_ratio()
    return min(DIFF1_TARGET * den // num, 2**256 - 1)


def target_to_difficulty(target: int) -> float:
    """The share difficulty whose target is `target` (DIFF1_TARGET / target)."""
    return DIFF1_TARGET / max(target, 1)


def word_swap(data: bytes) -> bytes:
    """Reverse the bytes of every 4-byte word (Stratum's `prevhash` order from the
    internal byte order of the header, and back)."""
    return b"".join(data[i : i + 4][::-1] for i in range(0, len(data), 4))


def hex_u32(value: int) -> str:
    """A u32 header field as Stratum sends it: 8 zero-padded hex digits, big-endian."""
    return f"{value & 0xFFFFFFFF:08x}"


def parse_hex(value: Any, size: int, what: str) -> bytes:
    """Exactly `size` bytes from a hex string; StratumError(OTHER) naming `what` otherwise."""
    if not isinstance(value, str) or len(value) != 2 * size:
        raise StratumError(OTHER, f"{what} must be {2 * size} hex digits")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise StratumError(OTHER, f"{what} must be {2 * size} hex digits") from exc


def parse_u32(value: Any, what: str) -> int:
    """A u32 sent as 8 hex digits, big-endian (ntime, nonce, version bits)."""
    return int.from_bytes(parse_hex(value, 4, what), "big")
