"""Known peer addresses and bans, persisted in SQLite (SPEC §6).

The address book and the ban list are the tables `p2p_addresses` and `p2p_bans` of the node's
database (`node.db`, see docs/architecture.md: p2p owns its `p2p_` tables, creates them with
`CREATE TABLE IF NOT EXISTS` and writes inside `with db.transaction():`). p2p never imports
`storage`: `AddrMan` takes any object with the `Database` methods it uses (`PeerDb`).

Ban keys: a ban names a host (`"203.0.113.7"`) as in Bitcoin Core. Loopback is the exception:
every node of a local devnet or test shares 127.0.0.1, so banning the host would ban them all,
and any local process can claim any listen port in its version. There a ban names only what
the peer proved (issue 11: a claimed port let an attacker get another local node banned):
- a peer we dialed at 127.0.0.1:PORT proved it listens there: `"127.0.0.1:PORT"` (checked
  before every dial to PORT and for an inbound peer claiming PORT);
- an inbound peer proved nothing but its version nonce (random per node process):
  `"127.0.0.1:PORT#NONCE"` (PORT claimed, NONCE 16 hex digits), which matches that node
  process again and no other (a restart draws a new nonce), or `"127.0.0.1:PORT#pre-version"`
  (PORT: the connection's source port) for misbehaviour before any version, which is recorded
  but matches nothing. See `ban_key` and `inbound_ban_key`.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .messages import MAX_ADDR, NetAddress

__all__ = [
    "AddrMan",
    "PeerDb",
    "ban_key",
    "inbound_ban_key",
    "is_loopback",
    "MAX_ADDRESSES",
    "MAX_NEW",
    "MAX_NEW_PER_SOURCE",
    "MAX_TRIED",
]

MAX_NEW_PER_SOURCE = 256
"""Untried addresses one source may have told us: its own flood displaces only its own."""
MAX_NEW = 8_192
"""Untried addresses in all (Core: the new table, 1,024 buckets of 64)."""
MAX_TRIED = 2_048
"""Addresses we connected to (Core: the tried table); a flood of fresh ones never evicts them."""
MAX_ADDRESSES = MAX_NEW + MAX_TRIED
"""Address book bound: a peer cannot grow our file without limit."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS p2p_addresses (
    host TEXT NOT NULL,
    port INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    last_success INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL DEFAULT '',
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
    """The ban key of a listener at host:port (a peer we dial, or dialed): the host, or
    `host:port` on loopback."""
    return f"{host}:{port}" if is_loopback(host) else host


def inbound_ban_key(host: str, source_port: int, listen_port: int, nonce: int | None) -> str:
    """The ban key of an inbound peer: the host, or on loopback `host:LISTEN#NONCE` (its
    claimed listen port and version nonce) or `host:SOURCE#pre-version` before a version."""
    if not is_loopback(host):
        return host
    if nonce is None:
        return f"{host}:{source_port}#pre-version"
    return f"{host}:{listen_port}#{nonce:016x}"


class AddrMan:
    """Address book and ban list in the node database. Times are Unix seconds (node.now()).

    Buckets by source (Core's addrman, simplified): an address we learned and never connected
    to ("new") remembers the `source` that told us first (a network group, or on loopback the
    peer's ban key); one source holds at most MAX_NEW_PER_SOURCE of them, all sources
    MAX_NEW (the fullest source loses its oldest first). An address we connected to
    ("tried", `last_success > 0`) is kept apart, at most MAX_TRIED, and never displaced by
    new ones. `candidates` draws from both halves.
    """

    def __init__(self, db: PeerDb) -> None:
        self._db = db
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.query("PRAGMA table_info(p2p_addresses)")}
        if "source" not in columns:  # a book written before issue 11
            with db.transaction():
                db.execute("ALTER TABLE p2p_addresses ADD COLUMN source TEXT NOT NULL DEFAULT ''")

    # -- addresses ------------------------------------------------------------------

    def add(self, addresses: list[NetAddress], source: str = "") -> None:
        """Remember addresses told by `source` (a newer last_seen wins; the first source
        stays); ports 0 are ignored. Then the per-source and total bounds apply."""
        rows = [(a.host, a.port, a.last_seen, source) for a in addresses if 0 < a.port < 65536]
        if not rows:
            return
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO p2p_addresses (host, port, last_seen, source) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(host, port) DO UPDATE SET "
                "last_seen = max(last_seen, excluded.last_seen)",
                rows,
            )
            self._trim_new(source)

    def _trim_new(self, source: str) -> None:
        self._db.execute(
            "DELETE FROM p2p_addresses WHERE rowid IN (SELECT rowid FROM p2p_addresses "
            "WHERE last_success = 0 AND source = ? ORDER BY last_seen DESC LIMIT -1 OFFSET ?)",
            (source, MAX_NEW_PER_SOURCE),
        )
        counts = self.sources()
        excess = sum(counts.values()) - MAX_NEW
        if excess <= 0:
            return
        # level the fullest sources down, one address at a time (the newcomer last on ties)
        heap = [(-n, k == source, k) for k, n in counts.items()]
        heapq.heapify(heap)
        drop: dict[str, int] = {}
        for _ in range(excess):
            n, newest, key = heapq.heappop(heap)
            drop[key] = drop.get(key, 0) + 1
            heapq.heappush(heap, (n + 1, newest, key))
        for key, count in drop.items():
            self._db.execute(
                "DELETE FROM p2p_addresses WHERE rowid IN (SELECT rowid FROM p2p_addresses "
                "WHERE last_success = 0 AND source = ? ORDER BY last_seen LIMIT ?)",
                (key, count),
            )

    def mark_good(self, host: str, port: int, now: int) -> None:
        """A handshake with host:port succeeded: it moves to the tried half."""
        with self._db.transaction():
            self.add([NetAddress(host, port, now)])
            self._db.execute(
                "UPDATE p2p_addresses SET last_success = ?, failures = 0 "
                "WHERE host = ? AND port = ?",
                (now, host, port),
            )
            self._db.execute(
                "DELETE FROM p2p_addresses WHERE rowid IN (SELECT rowid FROM p2p_addresses "
                "WHERE last_success > 0 ORDER BY last_success DESC LIMIT -1 OFFSET ?)",
                (MAX_TRIED,),
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
        """Addresses to try for outbound connections, alternating tried and new ones (so a
        flood of new ones cannot crowd out the peers we know work); within each, fewest
        failures first, at random among equals."""
        halves = [self._pick(True, limit), self._pick(False, limit)]
        picked: list[tuple[str, int]] = []
        for i in range(limit):
            for half in (halves[i % 2], halves[1 - i % 2]):
                if half:
                    picked.append(half.pop(0))
                    break
        return picked

    def _pick(self, tried: bool, limit: int) -> list[tuple[str, int]]:
        rows = self._db.query(
            "SELECT host, port FROM p2p_addresses WHERE (last_success > 0) = ? "
            "ORDER BY failures, random() LIMIT ?",
            (tried, limit),
        )
        return [(h, p) for h, p in rows]

    def sources(self) -> dict[str, int]:
        """Untried addresses per source (for tests and diagnostics)."""
        rows = self._db.query(
            "SELECT source, count(*) FROM p2p_addresses WHERE last_success = 0 GROUP BY source"
        )
        return {str(k): int(n) for k, n in rows}

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
