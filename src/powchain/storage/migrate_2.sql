-- Schema 1 -> 2: accounts, tx_index and address_history become WITHOUT ROWID tables and lose
-- their secondary height indexes (a disconnect now deletes a block's rows by primary key).
-- Runs inside the migration transaction of Database._migrate; the rows are copied unchanged.
DROP INDEX IF EXISTS tx_index_height;
DROP INDEX IF EXISTS address_history_height;

CREATE TABLE accounts_v2 (
    pubkey   BLOB PRIMARY KEY,
    balance  INTEGER NOT NULL,
    nonce    INTEGER NOT NULL,
    immature INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO accounts_v2 SELECT pubkey, balance, nonce, immature FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v2 RENAME TO accounts;

CREATE TABLE tx_index_v2 (
    txid       BLOB PRIMARY KEY,
    block_hash BLOB NOT NULL,
    height     INTEGER NOT NULL,
    pos        INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO tx_index_v2 SELECT txid, block_hash, height, pos FROM tx_index;
DROP TABLE tx_index;
ALTER TABLE tx_index_v2 RENAME TO tx_index;

CREATE TABLE address_history_v2 (
    address   BLOB NOT NULL,
    height    INTEGER NOT NULL,
    pos       INTEGER NOT NULL,
    direction TEXT NOT NULL,
    txid      BLOB NOT NULL,
    PRIMARY KEY (address, height, pos, direction)
) WITHOUT ROWID;
INSERT INTO address_history_v2 SELECT address, height, pos, direction, txid FROM address_history;
DROP TABLE address_history;
ALTER TABLE address_history_v2 RENAME TO address_history;
