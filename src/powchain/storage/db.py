"""The SQLite database of a node: open, migrate, transactions, small query helpers.

One file (`chain.sqlite`) in WAL mode with `synchronous=FULL`: a committed transaction survives
a power cut, and a `kill -9` at any instant reopens at the last committed one. One writer (the
node's event loop); a lock serializes access so a reader in a worker thread (e.g. a sync API
route) never interleaves with a write transaction. This module knows nothing of blocks: the
other `storage` modules hold the SQL of each table. Other packages (p2p) may create their own
tables with `executescript` and use `execute` / `query` / `transaction`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["Database", "SCHEMA_VERSION", "DB_FILENAME"]

SCHEMA_VERSION = 2
MIGRATIONS = {2: "migrate_2.sql"}
"""Schema version -> the script that upgrades the version before it (in this package)."""
CACHE_KIB = 32 * 1024
"""SQLite page cache per connection, KiB (allocated as pages are read; default is 2 MiB)."""
MMAP_BYTES = 256 * 1024 * 1024
"""Map up to this much of the file: cold page reads without a read() copy each."""
DB_FILENAME = "chain.sqlite"

Params = Sequence[Any]


class Database:
    """A connection to one node database. Use `with db.transaction():` around every write."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        # isolation_level=None: no implicit transactions; we issue BEGIN/COMMIT ourselves.
        self._conn = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        self._migrate()

    @classmethod
    def open_in(cls, datadir: Path) -> Database:
        """Open (creating if needed) `datadir/chain.sqlite`."""
        datadir.mkdir(parents=True, exist_ok=True)
        return cls(datadir / DB_FILENAME)

    def _migrate(self) -> None:
        """Create missing tables, then upgrade an older file one version at a time, all in one
        transaction. Raises RuntimeError for a file newer than this build."""
        with self.transaction():
            for statement in _split_sql(_package_sql("schema.sql")):
                self._conn.execute(statement)
            found = self.meta_get("schema_version")
            version = SCHEMA_VERSION if found is None else int(found)
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"schema {version}, this build reads {SCHEMA_VERSION}")
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _split_sql(_package_sql(MIGRATIONS[step])):
                    self._conn.execute(statement)
            self.meta_set("schema_version", str(SCHEMA_VERSION).encode())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception). Nested calls join the outer."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self._conn.execute("COMMIT")

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; returns the number of changed rows."""
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self._lock:
            self._conn.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        """Run `;`-separated statements in one transaction (e.g. CREATE TABLE IF NOT EXISTS)."""
        with self.transaction():
            for statement in _split_sql(script):
                self._conn.execute(statement)

    def query(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Params = ()) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._conn.execute(sql, params).fetchone()
            return row

    def meta_get(self, key: str) -> bytes | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else bytes(row[0])

    def meta_set(self, key: str, value: bytes) -> None:
        self.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check`: 'ok' when the file is sound."""
        row = self.query_one("PRAGMA integrity_check")
        return "" if row is None else str(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _package_sql(name: str) -> str:
    return resources.files("powchain.storage").joinpath(name).read_text("utf-8")


def _split_sql(script: str) -> list[str]:
    """Statements of a script without `--` comments (our scripts have no `;` inside strings)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
