"""Known peer addresses and bans, persisted in SQLite (SPEC §6).

The address book and the ban list are the tables `p2p_addresses` and `p2p_bans` of the node's
database (`node.db`, see docs/architecture.md: p2p owns its `p2p_` tables, creates them with
`CREATE TABLE IF NOT EXISTS` and writes inside `with db.transaction():`). p2p never imports
`storage`: `AddrMan` takes any object with the `Database` methods it uses (`PeerDb`).

Ban keys: a ban names a host (`"203.0.113.7"`) as in Bitcoin Core. Loopback is the exception:
every node of a local devnet or test shares 127.0.0.1, so banning the host would ban them all;
there a ban names `"127.0.0.1:PORT"` with PORT the peer's advertised listen port (or the
connection's remote port when it sent no version). See `ban_key`.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .messages import MAX_ADDR, NetAddress

__all__ = ["AddrMan", "PeerDb", "ban_key", "is_loopback", "MAX_ADDRESSES"]

MAX_ADDRESSES = 10_000
"""Address book bound: a peer cannot grow our file without limit."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS p2p_addresses (
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    last_success INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (host, port)
);
CREATE TABLE IF NOT EXISTS p2p_bans (
    key TEXT PRIMARY KEY,
    banned_at INTEGER NOT NULL,
    until INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""


class PeerDb(Protocol):
    """The subset of `storage.db.Database` the address book uses."""

    def transaction(self) -> AbstractContextManager[None]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def executescript(self, script: str) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ban_key(host: str, port: int) -> str:
    """The key a ban of this peer is stored under: the host, or `host:port` on loopback."""
    return f"{host}:{port}" if is_loopback(host) else host


class AddrMan:
    """Address book and ban list in the node database. Times are Unix seconds (node.now())."""

    def __init__(self, db: PeerDb) -> None:
        self._db = db
        db.executescript(_SCHEMA)

    # -- addresses ------------------------------------------------------------------

    def add(self, addresses: list[NetAddress]) -> None:
        """Remember addresses (a newer last_seen wins); ports 0 are ignored."""
        rows = [(a.host, a.port, a.last_seen) for a in addresses if 0 < a.port < 65536]
        if not rows:
            return
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO p2p_addresses (host, port, last_seen) VALUES (?, ?, ?) "
                "ON CONFLICT(host, port) DO UPDATE SET "
                "last_seen = max(last_seen, excluded.last_seen)",
                rows,
            )
            self._db.execute(
                "DELETE FROM p2p_addresses WHERE rowid NOT IN "
                "(SELECT rowid FROM p2p_addresses ORDER BY last_seen DESC LIMIT ?)",
                (MAX_ADDRESSES,),
            )

    def mark_good(self, host: str, port: int, now: int) -> None:
        """A handshake with host:port succeeded."""
        with self._db.transaction():
            self.add([NetAddress(host, port, now)])
            self._db.execute(
                "UPDATE p2p_addresses SET last_success = ?, failures = 0 "
                "WHERE host = ? AND port = ?",
                (now, host, port),
            )

    def mark_failed(self, host: str, port: int) -> None:
        """A connection attempt to host:port failed."""
        with self._db.transaction():
            self._db.execute(
                "UPDATE p2p_addresses SET failures = failures + 1 WHERE host = ? AND port = ?",
                (host, port),
            )

    def forget(self, host: str, port: int) -> None:
        """Drop an address (e.g. it turned out to be ourselves)."""
        with self._db.transaction():
            self._db.execute("DELETE FROM p2p_addresses WHERE host = ? AND port = ?", (host, port))

    def sample(self, limit: int = MAX_ADDR) -> list[NetAddress]:
        """Up to `limit` random known addresses, for an `addr` answer."""
        rows = self._db.query(
            "SELECT host, port, last_seen FROM p2p_addresses ORDER BY random() LIMIT ?",
            (min(limit, MAX_ADDR),),
        )
        return [NetAddress(h, p, t) for h, p, t in rows]

    def candidates(self, limit: int) -> list[tuple[str, int]]:
        """Addresses to try for outbound connections: fewest failures first, then shuffled."""
        rows = self._db.query(
            "SELECT host, port, failures FROM p2p_addresses ORDER BY failures LIMIT ?",
            (limit * 4,),
        )
        random.shuffle(rows)
        rows.sort(key=lambda r: r[2])
        return [(h, p) for h, p, _ in rows[:limit]]

    def count(self) -> int:
        row = self._db.query_one("SELECT count(*) FROM p2p_addresses")
        return 0 if row is None else int(row[0])

    # -- bans -----------------------------------------------------------------------

    def ban(self, key: str, now: int, seconds: int, reason: str) -> None:
        """Ban `key` (see `ban_key`) until now + seconds."""
        with self._db.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO p2p_bans (key, banned_at, until, reason) "
                "VALUES (?, ?, ?, ?)",
                (key, now, now + seconds, reason),
            )

    def unban(self, key: str) -> bool:
        """Lift a ban; True when there was one."""
        with self._db.transaction():
            return self._db.execute("DELETE FROM p2p_bans WHERE key = ?", (key,)) > 0

    def clear_bans(self) -> int:
        """Lift every ban (`powchain node --clear-bans`, Core's `clearbanned`); how many."""
        with self._db.transaction():
            return self._db.execute("DELETE FROM p2p_bans")

    def is_banned(self, key: str, now: int) -> bool:
        row = self._db.query_one("SELECT until FROM p2p_bans WHERE key = ?", (key,))
        return row is not None and int(row[0]) > now

    def bans(self, now: int) -> list[dict[str, object]]:
        """Active bans: `address`, `banned_at`, `until` (Unix s), `reason`."""
        rows = self._db.query(
            "SELECT key, banned_at, until, reason FROM p2p_bans WHERE until > ? "
            "ORDER BY banned_at, key",
            (now,),
        )
        return [{"address": k, "banned_at": b, "until": u, "reason": r} for k, b, u, r in rows]
