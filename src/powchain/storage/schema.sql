-- powchain storage schema (version 2; `migrate_2.sql` upgrades a version-1 file). One SQLite file per datadir: `chain.sqlite`.
-- Hashes and keys are 32-byte BLOBs in internal byte order; money and nonces are INTEGER units.
-- Every block connect/disconnect rewrites accounts, undo, coinbases, indexes, active_chain and
-- meta.tip inside ONE transaction, so the file always reopens at a consistent tip.
-- p2p owns its own tables (peers, bans), created through Database.executescript.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

-- Every known header (all branches). status: 1 valid-header, 2 valid (connected once),
-- 3 invalid. chainwork: 32-byte big-endian cumulative work. seq: first-seen order (ties).
CREATE TABLE IF NOT EXISTS block_index (
    hash      BLOB PRIMARY KEY,
    prev      BLOB NOT NULL,
    height    INTEGER NOT NULL,
    chainwork BLOB NOT NULL,
    header    BLOB NOT NULL,
    status    INTEGER NOT NULL,
    has_data  INTEGER NOT NULL DEFAULT 0,
    seq       INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS block_data (
    hash BLOB PRIMARY KEY,
    raw  BLOB NOT NULL
);

-- BlockUndo.serialize() of each connected block of the active chain.
CREATE TABLE IF NOT EXISTS block_undo (
    hash BLOB PRIMARY KEY,
    raw  BLOB NOT NULL
);

-- State at the tip. An account equal to the empty account has no row.
-- Tables keyed by random 32-byte keys are WITHOUT ROWID: one B-tree per table, so a lookup or
-- insert touches one tree instead of the key index plus the rowid table.
CREATE TABLE IF NOT EXISTS accounts (
    pubkey   BLOB PRIMARY KEY,
    balance  INTEGER NOT NULL,
    nonce    INTEGER NOT NULL,
    immature INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS active_chain (
    height INTEGER PRIMARY KEY,
    hash   BLOB NOT NULL
);

-- Coinbase of each active block, matured COINBASE_MATURITY blocks later.
CREATE TABLE IF NOT EXISTS coinbases (
    height    INTEGER PRIMARY KEY,
    recipient BLOB NOT NULL,
    amount    INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS tx_index (
    txid       BLOB PRIMARY KEY,
    block_hash BLOB NOT NULL,
    height     INTEGER NOT NULL,
    pos        INTEGER NOT NULL
) WITHOUT ROWID;

-- direction: 'in' (received) or 'out' (sent); a self-payment has both rows.
CREATE TABLE IF NOT EXISTS address_history (
    address   BLOB NOT NULL,
    height    INTEGER NOT NULL,
    pos       INTEGER NOT NULL,
    direction TEXT NOT NULL,
    txid      BLOB NOT NULL,
    PRIMARY KEY (address, height, pos, direction)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS posts (
    height INTEGER NOT NULL,
    pos    INTEGER NOT NULL,
    txid   BLOB NOT NULL,
    author BLOB NOT NULL,
    text   TEXT NOT NULL,
    time   INTEGER NOT NULL,
    PRIMARY KEY (height, pos)
);
