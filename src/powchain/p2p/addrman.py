"""Known peer addresses and bans, persisted in SQLite (SPEC §6).

The address book and the ban list live in their own file, `DATADIR/peers.sqlite` (Bitcoin
Core keeps `peers.dat` and `banlist.json` apart from the chainstate too): they are written at
network pace, outside the chain database's single-writer block transactions.

Ban keys: a ban names a host (`"203.0.113.7"`) as in Bitcoin Core. Loopback is the exception:
every node of a local devnet or test shares 127.0.0.1, so banning the host would ban them all;
there a ban names `"127.0.0.1:PORT"` with PORT the peer's advertised listen port (or the
connection's remote port when it sent no version). See `ban_key`.
"""

from __future__ import annotations

import ipaddress
import random
import sqlite3
from pathlib import Path

from .messages import MAX_ADDR, NetAddress

__all__ = ["AddrMan", "ban_key", "is_loopback", "MAX_ADDRESSES"]

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
    """Address book and ban list over one SQLite file. Times are Unix seconds (node.now())."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path))
        # WAL + NORMAL: a committed ban survives a crash of the process (not a power cut),
        # and the address book does not pay an fsync per gossip message
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    # -- addresses ------------------------------------------------------------------

    def add(self, addresses: list[NetAddress]) -> None:
        """Remember addresses (a newer last_seen wins); ports 0 are ignored."""
        rows = [(a.host, a.port, a.last_seen) for a in addresses if 0 < a.port < 65536]
        self._db.executemany(
            "INSERT INTO p2p_addresses (host, port, last_seen) VALUES (?, ?, ?) "
            "ON CONFLICT(host, port) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
            rows,
        )
        self._trim()
        self._db.commit()

    def _trim(self) -> None:
        self._db.execute(
            "DELETE FROM p2p_addresses WHERE rowid NOT IN "
            "(SELECT rowid FROM p2p_addresses ORDER BY last_seen DESC LIMIT ?)",
            (MAX_ADDRESSES,),
        )

    def mark_good(self, host: str, port: int, now: int) -> None:
        """A handshake with host:port succeeded."""
        self.add([NetAddress(host, port, now)])
        self._db.execute(
            "UPDATE p2p_addresses SET last_success = ?, failures = 0 WHERE host = ? AND port = ?",
            (now, host, port),
        )
        self._db.commit()

    def mark_failed(self, host: str, port: int) -> None:
        """A connection attempt to host:port failed."""
        self._db.execute(
            "UPDATE p2p_addresses SET failures = failures + 1 WHERE host = ? AND port = ?",
            (host, port),
        )
        self._db.commit()

    def forget(self, host: str, port: int) -> None:
        """Drop an address (e.g. it turned out to be ourselves)."""
        self._db.execute("DELETE FROM p2p_addresses WHERE host = ? AND port = ?", (host, port))
        self._db.commit()

    def sample(self, limit: int = MAX_ADDR) -> list[NetAddress]:
        """Up to `limit` random known addresses, for an `addr` answer."""
        rows = self._db.execute(
            "SELECT host, port, last_seen FROM p2p_addresses ORDER BY random() LIMIT ?",
            (min(limit, MAX_ADDR),),
        ).fetchall()
        return [NetAddress(h, p, t) for h, p, t in rows]

    def candidates(self, limit: int) -> list[tuple[str, int]]:
        """Addresses to try for outbound connections: fewest failures first, then shuffled."""
        rows = self._db.execute(
            "SELECT host, port, failures FROM p2p_addresses ORDER BY failures LIMIT ?",
            (limit * 4,),
        ).fetchall()
        random.shuffle(rows)
        rows.sort(key=lambda r: r[2])
        return [(h, p) for h, p, _ in rows[:limit]]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM p2p_addresses").fetchone()[0])

    # -- bans -----------------------------------------------------------------------

    def ban(self, key: str, now: int, seconds: int, reason: str) -> None:
        """Ban `key` (see `ban_key`) until now + seconds."""
        self._db.execute(
            "INSERT OR REPLACE INTO p2p_bans (key, banned_at, until, reason) VALUES (?, ?, ?, ?)",
            (key, now, now + seconds, reason),
        )
        self._db.commit()

    def unban(self, key: str) -> bool:
        """Lift a ban; True when there was one."""
        cur = self._db.execute("DELETE FROM p2p_bans WHERE key = ?", (key,))
        self._db.commit()
        return cur.rowcount > 0

    def is_banned(self, key: str, now: int) -> bool:
        row = self._db.execute("SELECT until FROM p2p_bans WHERE key = ?", (key,)).fetchone()
        return row is not None and int(row[0]) > now

    def bans(self, now: int) -> list[dict[str, object]]:
        """Active bans: `address`, `banned_at`, `until` (Unix s), `reason`."""
        self._db.execute("DELETE FROM p2p_bans WHERE until <= ?", (now,))
        self._db.commit()
        rows = self._db.execute(
            "SELECT key, banned_at, until, reason FROM p2p_bans ORDER BY banned_at"
        ).fetchall()
        return [{"address": k, "banned_at": b, "until": u, "reason": r} for k, b, u, r in rows]
