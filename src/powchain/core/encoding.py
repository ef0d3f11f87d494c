"""Canonical binary encoding: fixed-width little-endian integers and Bitcoin's CompactSize.

Pure: no I/O. Every parser of untrusted bytes goes through `ByteReader`, which is bounded
(it never reads past the buffer) and raises `ParseError` on any malformed input.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = [
    "ParseError",
    "ByteReader",
    "compact_size",
    "var_bytes",
    "u8",
    "u16",
    "u32",
    "u64",
    "i32",
]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")


class ParseError(ValueError):
    """Raised for bytes that do not decode: truncated, trailing, non-canonical or out of range."""


def u8(n: int) -> bytes:
    """One byte, 0 <= n < 2**8."""
    return bytes((n,))


def u16(n: int) -> bytes:
    """Two bytes little-endian."""
    return _U16.pack(n)


def u32(n: int) -> bytes:
    """Four bytes little-endian."""
    return _U32.pack(n)


def u64(n: int) -> bytes:
    """Eight bytes little-endian."""
    return _U64.pack(n)


def i32(n: int) -> bytes:
    """Four bytes little-endian, two's complement."""
    return _I32.pack(n)


def compact_size(n: int) -> bytes:
    """Bitcoin's CompactSize: 1, 3, 5 or 9 bytes (Core: WriteCompactSize)."""
    if n < 0:
        raise ValueError("compact size must be >= 0")
    if n < 0xFD:
        return bytes((n,))
    if n <= 0xFFFF:
        return b"\xfd" + _U16.pack(n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + _U32.pack(n)
    return b"\xff" + _U64.pack(n)


def var_bytes(data: bytes) -> bytes:
    """CompactSize length followed by the bytes."""
    return compact_size(len(data)) + data


class ByteReader:
    """A bounded cursor over untrusted bytes. Every read raises `ParseError` when short."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._data = bytes(data)
        self._pos = 0

    @property
    def pos(self) -> int:
        """Bytes consumed so far."""
        return self._pos

    def remaining(self) -> int:
        """Bytes left to read."""
        return len(self._data) - self._pos

    def read(self, n: int) -> bytes:
        """Exactly n bytes, or ParseError."""
        if n < 0 or self._pos + n > len(self._data):
            raise ParseError(f"truncated: wanted {n} bytes, {self.remaining()} left")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def read_struct(self, layout: struct.Struct) -> tuple[Any, ...]:
        """The fields of a fixed-size `layout` (one bounds check for several fields), or
        ParseError."""
        end = self._pos + layout.size
        if end > len(self._data):
            raise ParseError(f"truncated: wanted {layout.size} bytes, {self.remaining()} left")
        fields = layout.unpack_from(self._data, self._pos)
        self._pos = end
        return fields

    def consumed_since(self, start: int) -> bytes:
        """The bytes read from position `start` up to now."""
        return self._data[start : self._pos]

    def read_u8(self) -> int:
        return self.read(1)[0]

    def read_u16(self) -> int:
        return int(_U16.unpack(self.read(2))[0])

    def read_u32(self) -> int:
        return int(_U32.unpack(self.read(4))[0])

    def read_u64(self) -> int:
        return int(_U64.unpack(self.read(8))[0])

    def read_i32(self) -> int:
        return int(_I32.unpack(self.read(4))[0])

    def read_compact_size(self, maximum: int = 0x02000000) -> int:
        """A canonical CompactSize no larger than `maximum` (Core: ReadCompactSize)."""
        first = self.read_u8()
        if first < 0xFD:
            n = first
        elif first == 0xFD:
            n = self.read_u16()
            if n < 0xFD:
                raise ParseError("non-canonical compact size")
        elif first == 0xFE:
            n = self.read_u32()
            if n <= 0xFFFF:
                raise ParseError("non-canonical compact size")
        else:
            n = self.read_u64()
            if n <= 0xFFFFFFFF:
                raise ParseError("non-canonical compact size")
        if n > maximum:
            raise ParseError(f"size {n} exceeds limit {maximum}")
        return n

    def read_var_bytes(self, maximum: int) -> bytes:
        """CompactSize length (<= maximum) then that many bytes."""
        return self.read(self.read_compact_size(maximum))

    def expect_end(self) -> None:
        """Raise ParseError when bytes are left over (no trailing garbage is accepted)."""
        if self.remaining():
            raise ParseError(f"{self.remaining()} trailing bytes")
