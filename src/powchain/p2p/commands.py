"""The command byte of every peer message (SPEC §6; 14-16 for validator networks, issue 14).

Its own module so that message codecs beside `messages.py` (`valmsgs.py`) name their command
without importing the table that imports them.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Command"]


class Command(IntEnum):
    """The first byte of every frame."""

    VERSION = 0
    VERACK = 1
    PING = 2
    PONG = 3
    GETADDR = 4
    ADDR = 5
    INV = 6
    GETDATA = 7
    NOTFOUND = 8
    GETHEADERS = 9
    HEADERS = 10
    BLOCK = 11
    TX = 12
    MEMPOOL = 13
    PROPOSAL = 14  # validator networks (p2p/valmsgs.py)
    SIGNATURE = 15
    EVIDENCE = 16
