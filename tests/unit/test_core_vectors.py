"""Fixed hex vectors for the consensus encodings: any codec change must show up here.

The transfer, coinbase and our header were computed once with this codebase and committed;
the Bitcoin genesis header is an external vector of the same 80-byte layout.
"""

from __future__ import annotations

import hashlib

from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import (
    hash_to_hex,
    hex_to_hash,
    merkle_root,
    sha256d,
    tagged_hash,
)
from powchain.core.keys import schnorr_sign, schnorr_verify, xonly_pubkey
from powchain.core.transaction import Transaction, make_post_data, post_text

SECRET_A = b"\x01" * 32
SECRET_B = b"\x02" * 32
CHAIN_ID = 0x72707700

TRANSFER_HEX = (
    "01"
    "00777072"
    "0700000000000000"
    "1b84c5567b126440995d3ed5aaba0565d71e1834604819ff9c17f5e9d5dd078f"
    "4d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766"
    "80d1f00800000000"
    "e803000000000000"
    "0f0168656c6c6f20706f77636861696e"
    "1205faf5fd3531bbfc11ade678f10d84460391eb0dfa50fcbe2178ca68b771c2"
    "b016a60d556d236827c3341541a54932747529ed37c341f2bca51b80343936e1"
)
TRANSFER_SIGHASH = "a15c86be0c6ffbf29fd96df9300c6b1cc67405f2d64c67fee95e80779cf6ce8a"
TRANSFER_TXID = "f7bdef68d4d9c22114b13b9dc87535753561579e0c8b5c30b209699b00b277f1"

COINBASE_HEX = (
    "00"
    "00777072"
    "0500000000000000"
    "4d4b6cd1361032ca9bd2aeb9d900aa4d45d9ead80ac9423374c451a7254d0766"
    "00f2052a01000000"
    "056578747261"
)
COINBASE_TXID = "7e79d31be73154689e6e082975a43eacf7b1e299fe4390a5fec56ed5512a67b5"

HEADER_HEX = (
    "01000000"
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "5fc32b2a459b2fab72a4f9525bf156d833cf8dd12bc0f0750715e1eb737ed008"
    "64b95569"
    "ffff7f20"
    "2a000000"
)
HEADER_HASH = "cdc0dc112a9edd8adb474dd40b8be4f7f4854ffd29614e2862251ff31c15f937"

BITCOIN_GENESIS_HEX = (
    "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b2"
    "7ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
)
BITCOIN_GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"


def make_transfer() -> Transaction:
    unsigned = Transaction(
        1,
        CHAIN_ID,
        7,
        xonly_pubkey(SECRET_A),
        xonly_pubkey(SECRET_B),
        150_000_000,
        1_000,
        make_post_data("hello powchain"),
        b"",
    )
    return unsigned.with_signature(schnorr_sign(SECRET_A, unsigned.sighash(), bytes(32)))


def make_coinbase() -> Transaction:
    return Transaction.coinbase(CHAIN_ID, 5, xonly_pubkey(SECRET_B), 50 * 10**8, b"extra")


def test_transfer_vector() -> None:
    tx = make_transfer()
    assert tx.serialize().hex() == TRANSFER_HEX
    assert tx.sighash().hex() == TRANSFER_SIGHASH
    assert hash_to_hex(tx.txid) == TRANSFER_TXID
    assert tx.size == len(TRANSFER_HEX) // 2 == 173
    assert Transaction.from_bytes(bytes.fromhex(TRANSFER_HEX)) == tx
    assert schnorr_verify(tx.sender, tx.sighash(), tx.signature)
    assert post_text(tx.data) == "hello powchain"


def test_signature_commits_to_every_field_before_it() -> None:
    tx = make_transfer()
    assert tx.sighash() == tagged_hash(b"powchain/tx", tx.serialize()[:-64])
    raised_fee = Transaction.from_bytes(
        bytes.fromhex(TRANSFER_HEX.replace("e803000000000000", "e903000000000000"))
    )
    assert raised_fee.fee == 1_001
    assert not schnorr_verify(raised_fee.sender, raised_fee.sighash(), raised_fee.signature)


def test_coinbase_vector() -> None:
    cb = make_coinbase()
    assert cb.serialize().hex() == COINBASE_HEX
    assert hash_to_hex(cb.txid) == COINBASE_TXID
    assert cb.is_coinbase and cb.fee == 0 and cb.signature == b"" and cb.sender == bytes(32)
    assert Transaction.from_bytes(bytes.fromhex(COINBASE_HEX)) == cb


def test_header_and_block_vector() -> None:
    cb, tx = make_coinbase(), make_transfer()
    header = BlockHeader(
        1, bytes(range(32)), merkle_root([cb.txid, tx.txid]), 1_767_225_700, 0x207FFFFF, 42
    )
    assert header.serialize().hex() == HEADER_HEX
    assert header.hash_hex == HEADER_HASH
    block = Block(header, (cb, tx))
    assert block.serialize().hex() == HEADER_HEX + "02" + COINBASE_HEX + TRANSFER_HEX
    assert block.size == 313
    assert block.compute_merkle_root() == header.merkle_root
    assert Block.parse(block.serialize()) == block


def test_bitcoin_genesis_header_vector() -> None:
    header = BlockHeader.parse(bytes.fromhex(BITCOIN_GENESIS_HEX))
    assert (header.version, header.time, header.bits, header.nonce) == (
        1,
        1_231_006_505,
        0x1D00FFFF,
        2_083_236_893,
    )
    assert header.hash_hex == BITCOIN_GENESIS_HASH
    assert header.serialize().hex() == BITCOIN_GENESIS_HEX
    # a one-transaction block's merkle root is that txid
    assert merkle_root([header.merkle_root]) == header.merkle_root


def test_hashing_primitives() -> None:
    assert sha256d(b"").hex() == (
        "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
    )
    tag = hashlib.sha256(b"powchain/tx").digest()
    assert tagged_hash(b"powchain/tx", b"x") == hashlib.sha256(tag + tag + b"x").digest()
    assert hex_to_hash(BITCOIN_GENESIS_HASH)[-3:] == bytes(3)  # leading zeros read first
    assert hash_to_hex(hex_to_hash(BITCOIN_GENESIS_HASH)) == BITCOIN_GENESIS_HASH
    assert merkle_root([]) == bytes(32)


def test_merkle_root_odd_level_repeats_last() -> None:
    a, b, c = (sha256d(bytes([i])) for i in range(3))
    ab = sha256d(a + b)
    cc = sha256d(c + c)
    assert merkle_root([a, b, c]) == sha256d(ab + cc)
    # CVE-2012-2459: the duplicated list shares the root (block_check must reject repeats)
    assert merkle_root([a, b, c, c]) == merkle_root([a, b, c])
