"""JSON at the edge: request bodies and the shapes of every response (SPEC §7).

Bytes become hex here and only here: block hashes, txids, `prev_block` and `merkle_root` are
byte-reversed hex (Bitcoin's convention), public keys become bech32m addresses of the node's
network, `data` and raw bytes plain hex (with `data_text`, its printable ASCII, beside it:
`data` is bytes, UTF-8 only in a post's `post`), money stays int base units, `bits` an 8-digit hex
string and `chainwork` a 64-digit hex string (it outgrows JSON's safe integers).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..core.block import Block, BlockHeader
from ..core.hashing import hash_to_hex
from ..core.keys import encode_address
from ..core.params import ChainParams
from ..core.transaction import Transaction, post_text

__all__ = [
    "TxSubmit",
    "MineRequest",
    "PeerRequest",
    "ErrorBody",
    "header_json",
    "tx_json",
    "bits_hex",
    "work_hex",
    "printable",
]

MAX_MINE_BLOCKS = 1_000


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class TxSubmit(_Strict):
    """POST /txs: the serialized transaction as hex."""

    raw: str = Field(max_length=2 * 1024 * 1024, description="serialized transaction, hex")


class MineRequest(_Strict):
    """POST /mine: how many blocks, paid to which address (default: the node's miner address)."""

    blocks: int = Field(default=1, ge=1, le=MAX_MINE_BLOCKS)
    address: str | None = Field(default=None, max_length=200)


class PeerRequest(_Strict):
    """POST /peers: `host:port` of a peer to connect to."""

    address: str = Field(max_length=300)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer: a stable reason and prose."""

    error: str
    message: str


def bits_hex(bits: int) -> str:
    return f"{bits:08x}"


def work_hex(chainwork: int) -> str:
    return f"{chainwork:064x}"


def address_or_none(params: ChainParams, pubkey: bytes) -> str | None:
    """bech32m address of a key; None for the all-zero 'no key' (coinbase sender, genesis)."""
    if pubkey == bytes(32):
        return None
    return encode_address(params.hrp, pubkey)


def header_json(header: BlockHeader, height: int, confirmations: int) -> dict[str, Any]:
    """Header fields of GET /blocks/{id} (people's hex for every hash)."""
    return {
        "hash": hash_to_hex(header.hash),
        "height": height,
        "version": header.version,
        "prev_block": hash_to_hex(header.prev_block),
        "merkle_root": hash_to_hex(header.merkle_root),
        "time": header.time,
        "bits": bits_hex(header.bits),
        "nonce": header.nonce,
        "confirmations": confirmations,
    }


def block_json(
    block: Block, height: int, confirmations: int, full: bool, params: ChainParams
) -> dict[str, Any]:
    """GET /blocks/{id}: header fields, `size`, `txids`, and `txs` decoded when `full`."""
    out = header_json(block.header, height, confirmations)
    out["size"] = block.size
    out["txids"] = [hash_to_hex(t) for t in block.txids]
    if full:
        out["txs"] = [tx_json(tx, params) for tx in block.txs]
    return out


def tx_json(tx: Transaction, params: ChainParams) -> dict[str, Any]:
    """Decoded fields of a transaction; `post` holds the text of a post, else null."""
    return {
        "txid": hash_to_hex(tx.txid),
        "version": tx.version,
        "coinbase": tx.is_coinbase,
        "sender": None if tx.is_coinbase else address_or_none(params, tx.sender),
        "recipient": address_or_none(params, tx.recipient),
        "amount": tx.amount,
        "fee": tx.fee,
        "nonce": tx.nonce,
        "data": tx.data.hex(),
        "data_text": printable(tx.data),
        "post": None if tx.is_coinbase else post_text(tx.data),
        "size": tx.size,
    }


def printable(data: bytes) -> str:
    """The printable part of arbitrary bytes: ASCII 0x20-0x7e as is, every other byte '.'
    (coinbase data holds extranonces; no UTF-8 is assumed)."""
    return data.decode("latin-1").translate(_UNPRINTABLE)


_UNPRINTABLE = {i: "." for i in (*range(0x20), *range(0x7F, 0x100))}
