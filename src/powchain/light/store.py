"""SQLite file of a light client's best header chain, packed small.

One file (`headers.sqlite`, WAL, synchronous=FULL): table `meta(key, value)` holds the
network's genesis hash; table `chunks(idx INTEGER PRIMARY KEY, data BLOB)` holds the chain in
chunks of CHUNK = 80 headers, heights idx*80 .. idx*80+79. A chunk's first header is stored
whole (80 bytes); every later one without its `prev_block` (48 bytes: version, merkle root,
time, bits, nonce, as in the header), because it is the hash of the header before it. A chunk
is 3,872 bytes, one per 4 KiB page: 100,000 headers take about 5.1 MB (`make bench` measures
it). Loading rebuilds each header and its hash in order; a chunk that does not decode is an
error naming the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from ..core.block import HEADER_SIZE, BlockHeader

__all__ = ["HeaderStore", "CHUNK"]

CHUNK = 80
_PACKED = HEADER_SIZE - 32


def _pack(header: BlockHeader, first: bool) -> bytes:
    raw = header.serialize()
    return raw if first else raw[:4] + raw[36:]


def _unpack_chunk(data: bytes) -> list[BlockHeader]:
    if len(data) < HEADER_SIZE or (len(data) - HEADER_SIZE) % _PACKED:
        raise ValueError(f"a header chunk of {len(data)} bytes")
    headers = [BlockHeader.parse(data[:HEADER_SIZE])]
    for pos in range(HEADER_SIZE, len(data), _PACKED):
        part = data[pos : pos + _PACKED]
        headers.append(BlockHeader.parse(part[:4] + headers[-1].hash + part[4:]))
    return headers


class HeaderStore:
    """The header file at `path` (created when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB)")
        self.db.execute("CREATE TABLE IF NOT EXISTS chunks (idx INTEGER PRIMARY KEY, data BLOB)")

    def close(self) -> None:
        self.db.close()

    def check_network(self, genesis_hash: bytes) -> None:
        """Remember the network's genesis on first use; ValueError when the file is another's."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'genesis'").fetchone()
        if row is None:
            self.db.execute("INSERT INTO meta VALUES ('genesis', ?)", (genesis_hash,))
        elif bytes(row[0]) != genesis_hash:
            raise ValueError(f"{self.path} holds headers of another network")

    def load(self) -> list[BlockHeader]:
        """Every stored header, genesis first. ValueError for a gap or an undecodable chunk."""
        headers: list[BlockHeader] = []
        for idx, data in self.db.execute("SELECT idx, data FROM chunks ORDER BY idx"):
            if idx * CHUNK != len(headers):
                raise ValueError(f"{self.path}: header chunk {idx} out of place")
            chunk = _unpack_chunk(bytes(data))
            if headers and chunk[0].prev_block != headers[-1].hash:
                raise ValueError(f"{self.path}: header chunk {idx} does not link")
            headers.extend(chunk)
        return headers

    def save(self, headers: Sequence[BlockHeader], from_height: int) -> None:
        """Write the chain `headers` (genesis first) from `from_height` on, in one transaction;
        chunks above the new tip are deleted (a reorg to a shorter chain)."""
        first = from_height // CHUNK
        last = (len(headers) - 1) // CHUNK
        rows = []
        for idx in range(first, last + 1):
            part = headers[idx * CHUNK : (idx + 1) * CHUNK]
            rows.append((idx, b"".join(_pack(h, i == 0) for i, h in enumerate(part))))
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("DELETE FROM chunks WHERE idx > ?", (last,))
            self.db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?)", rows)
            self.db.execute("COMMIT")
        except sqlite3.Error:
            self.db.execute("ROLLBACK")
            raise

    def size_bytes(self) -> int:
        """Bytes of the database's pages (page_count * page_size), WAL checkpointed first."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        size = self.db.execute("PRAGMA page_size").fetchone()[0]
        return int(pages) * int(size)
