"""Storage on real SQLite files: pragmas, transactions, state view, and kill -9 consistency."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from powchain.consensus.state import AccountState
from powchain.core.block import Block
from powchain.core.params import REGTEST
from powchain.node.chainstate import ChainState
from powchain.node.validation import accept_block
from powchain.storage.db import DB_FILENAME, Database
from powchain.storage.state import SqliteStateView, put_coinbase, write_accounts

from .chainbuilder import ALICE, MINER, ChainBuilder

NOW = REGTEST.genesis_time + 10_000_000


def test_database_uses_wal_and_full_sync(tmp_path: Path) -> None:
    db = Database.open_in(tmp_path)
    assert db.query_one("PRAGMA journal_mode") == ("wal",)
    assert db.query_one("PRAGMA synchronous") == (2,)  # FULL
    assert db.integrity_check() == "ok"
    assert (tmp_path / DB_FILENAME).exists()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = Database.open_in(tmp_path)
    with pytest.raises(RuntimeError), db.transaction():
        write_accounts(db, [(ALICE.pub, AccountState(5, 1, 0))])
        raise RuntimeError("crash mid-block")
    assert SqliteStateView(db).get_account(ALICE.pub) == AccountState()
    with db.transaction(), db.transaction():  # nested joins the outer
        write_accounts(db, [(ALICE.pub, AccountState(5, 1, 0))])
    assert SqliteStateView(db).get_account(ALICE.pub) == AccountState(5, 1, 0)


def test_state_view_reads_and_empty_accounts_have_no_row(tmp_path: Path) -> None:
    db = Database.open_in(tmp_path)
    view = SqliteStateView(db)
    with db.transaction():
        write_accounts(db, [(ALICE.pub, AccountState(7, 2, 3))])
        put_coinbase(db, 4, MINER.pub, 99)
    assert view.get_account(ALICE.pub) == AccountState(7, 2, 3)
    assert view.get_coinbase(4) == (MINER.pub, 99)
    assert view.get_coinbase(5) is None
    with db.transaction():
        write_accounts(db, [(ALICE.pub, AccountState())])
    assert db.query("SELECT * FROM accounts") == []


def test_other_packages_can_add_tables(tmp_path: Path) -> None:
    db = Database.open_in(tmp_path)
    db.executescript("CREATE TABLE IF NOT EXISTS bans (host TEXT PRIMARY KEY, until INTEGER);")
    with db.transaction():
        db.execute("INSERT INTO bans VALUES (?, ?)", ("10.0.0.1", 5))
    assert db.query("SELECT * FROM bans") == [("10.0.0.1", 5)]


def test_wrong_network_datadir_is_refused(tmp_path: Path) -> None:
    ChainState(Database.open_in(tmp_path), REGTEST).load()
    from powchain.core.params import DEVNET

    with pytest.raises(RuntimeError, match="not of network devnet"):
        ChainState(Database.open_in(tmp_path), DEVNET).load()


WRITER = """
import sys
from pathlib import Path
from powchain.core.block import Block
from powchain.core.params import REGTEST
from powchain.node.chainstate import ChainState
from powchain.node.validation import accept_block
from powchain.storage.db import Database

cs = ChainState(Database.open_in(Path(sys.argv[1])), REGTEST)
cs.load()
for line in open(sys.argv[2]):
    block = Block.parse(bytes.fromhex(line.strip()))
    accept_block(cs, block, int(sys.argv[3]))
"""


def snapshot(cs: ChainState) -> dict[str, list[tuple[object, ...]]]:
    tables = ("accounts", "coinbases", "tx_index", "address_history", "active_chain")
    return {t: cs.db.query(f"SELECT * FROM {t} ORDER BY 1, 2") for t in tables}


def busy_chain() -> list[Block]:
    """Blocks with transfers, so every connect writes several tables."""
    builder = ChainBuilder()
    blocks = builder.chain(REGTEST.coinbase_maturity + 1)
    for nonce in range(60):
        tx = MINER.transfer(ALICE.pub, 1_000 + nonce, fee=100, nonce=nonce)
        blocks.append(builder.block(blocks[-1], [tx]))
    return blocks


def wait_until(predicate: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


@pytest.mark.parametrize("kill_after", [3, 20, 45])
def test_kill_9_reopens_at_a_consistent_tip(tmp_path: Path, kill_after: int) -> None:
    blocks = busy_chain()
    feed_file = tmp_path / "blocks.hex"
    feed_file.write_text("\n".join(b.serialize().hex() for b in blocks))
    datadir = tmp_path / "victim"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    ChainState(Database.open_in(datadir), REGTEST).load()  # genesis before the race starts
    probe = Database.open_in(datadir)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(datadir), str(feed_file), str(NOW)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
    )
    try:
        wait_until(
            lambda: (
                (probe.query_one("SELECT MAX(height) FROM active_chain") or (0,))[0] >= kill_after
                or proc.poll() is not None
            ),
            timeout=60,
        )
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    probe.close()

    reopened = ChainState(Database.open_in(datadir), REGTEST)
    reopened.load()
    height = reopened.height
    assert height >= kill_after
    assert reopened.tip.hash == blocks[height - 1].hash
    assert reopened.db.integrity_check() == "ok"
    replay = ChainState(Database.open_in(tmp_path / "replay"), REGTEST)
    replay.load()
    for block in blocks[:height]:
        accept_block(replay, block, NOW)
    assert snapshot(reopened) == snapshot(replay)
    reopened.activate_best_chain()  # a body stored before the kill may now connect
    for block in blocks[reopened.height :]:  # the survivor continues where it stopped
        accept_block(reopened, block, NOW)
    assert reopened.tip.hash == blocks[-1].hash


V1_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE accounts (pubkey BLOB PRIMARY KEY, balance INTEGER NOT NULL,
    nonce INTEGER NOT NULL, immature INTEGER NOT NULL);
CREATE TABLE tx_index (txid BLOB PRIMARY KEY, block_hash BLOB NOT NULL,
    height INTEGER NOT NULL, pos INTEGER NOT NULL);
CREATE INDEX tx_index_height ON tx_index (height);
CREATE TABLE address_history (address BLOB NOT NULL, height INTEGER NOT NULL,
    pos INTEGER NOT NULL, direction TEXT NOT NULL, txid BLOB NOT NULL,
    PRIMARY KEY (address, height, pos, direction));
CREATE INDEX address_history_height ON address_history (height);
INSERT INTO meta VALUES ('schema_version', CAST('1' AS BLOB));
INSERT INTO accounts VALUES (x'11', 500, 3, 0);
INSERT INTO tx_index VALUES (x'22', x'33', 7, 1);
INSERT INTO address_history VALUES (x'11', 7, 1, 'out', x'22');
"""


def _without_rowid(db: Database, table: str) -> bool:
    row = db.query_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    return row is not None and "WITHOUT ROWID" in row[0]


def test_schema_1_file_is_upgraded_in_place_with_rows_kept(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    conn.executescript(V1_TABLES)
    conn.close()
    db = Database.open_in(tmp_path)
    assert db.meta_get("schema_version") == b"2"
    for table in ("accounts", "tx_index", "address_history"):
        assert _without_rowid(db, table), table
    assert db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL") == []
    assert db.query("SELECT * FROM accounts") == [(b"\x11", 500, 3, 0)]
    assert db.query("SELECT * FROM tx_index") == [(b"\x22", b"\x33", 7, 1)]
    assert db.query("SELECT * FROM address_history") == [(b"\x11", 7, 1, "out", b"\x22")]
    assert db.integrity_check() == "ok"
    db.close()
    assert Database.open_in(tmp_path).meta_get("schema_version") == b"2"  # idempotent reopen


def test_file_from_a_newer_build_is_refused_untouched(tmp_path: Path) -> None:
    db = Database.open_in(tmp_path)
    with db.transaction():
        db.meta_set("schema_version", b"99")
    db.close()
    with pytest.raises(RuntimeError, match="schema 99, this build reads 2"):
        Database.open_in(tmp_path)
    conn = sqlite3.connect(tmp_path / DB_FILENAME)
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert row == (b"99",)
