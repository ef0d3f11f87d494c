"""Endpoints for light clients (issue 15): transaction inclusion proofs and raw headers.

- `GET /api/v1/txs/{txid}/proof`: `{txid, block, height, index, branch, header, tx}` (the
  `light.proof.TxProof` JSON shape: txid/block people's hex, branch hashes internal-order
  hex bottom first, header the 80 bytes' hex, tx the raw transaction), plus
  `confirmations`; `?format=merkleblock` gives
  `{txid, block, height, merkleblock}` with BIP-37 merkleblock hex (what Bitcoin Core's
  `gettxoutproof` returns). 404 `not-found` (unknown), 409 `not-confirmed` (mempool).
- `GET /api/v1/headers?from=H&count=N`: N <= 2,000 raw 80-byte headers of the active chain
  from height H, as `{from, count, headers: [hex, ...]}` or, with `format=bin`, the bytes
  concatenated (`application/octet-stream`, 80 * count bytes).

Cost is bounded before serving: a proof reads one stored block (at most the max block size)
and hashes its txids; the txid lists of the last PROOF_CACHE blocks are kept; a headers answer
is at most 2,000 in-memory index entries (160 KB).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from ..core.hashing import hash_to_hex, merkle_branch
from ..core.merkleblock import encode_merkleblock
from .errors import ApiProblem
from .routes import parse_hash

__all__ = ["router", "MAX_HEADERS_PER_CALL"]

router = APIRouter(prefix="/api/v1")

MAX_HEADERS_PER_CALL = 2_000
PROOF_CACHE = 16


def _node(request: Request) -> Any:
    return request.app.state.node


def _block_txids(request: Request, block_hash: bytes) -> tuple[Any, list[bytes]]:
    """(header, txids) of a stored block, through a small per-app cache."""
    cache: OrderedDict[bytes, tuple[Any, list[bytes]]] = (
        getattr(request.app.state, "proof_cache", None) or OrderedDict()
    )
    request.app.state.proof_cache = cache
    hit = cache.get(block_hash)
    if hit is not None:
        cache.move_to_end(block_hash)
        return hit
    block = _node(request).get_block(block_hash)
    if block is None:
        raise ApiProblem(404, "not-found", "the block holding this transaction has no body")
    cache[block_hash] = (block.header, block.txids)
    while len(cache) > PROOF_CACHE:
        cache.popitem(last=False)
    return cache[block_hash]


@router.get("/txs/{txid}/proof")
async def tx_proof(
    request: Request,
    txid: str,
    format: str = Query("json", pattern="^(json|merkleblock)$", description="json or merkleblock"),
) -> dict[str, Any]:
    """Merkle inclusion proof of a confirmed transaction (see docs/spec.md, Issue 15)."""
    node = _node(request)
    raw_txid = parse_hash(txid, "txid")
    found = node.get_transaction(raw_txid)
    if found is None:
        raise ApiProblem(404, "not-found", f"unknown transaction {txid}")
    if found.block_hash is None:
        raise ApiProblem(409, "not-confirmed", "the transaction is in the mempool, not a block")
    header, txids = _block_txids(request, found.block_hash)
    index = found.pos
    if index is None or not 0 <= index < len(txids) or txids[index] != raw_txid:
        index = txids.index(raw_txid)
    base = {"txid": hash_to_hex(raw_txid), "block": hash_to_hex(found.block_hash)}
    base["height"] = found.height
    if format == "merkleblock":
        base["merkleblock"] = encode_merkleblock(header, txids, {index}).hex()
        return base
    base.update(
        index=index,
        branch=[h.hex() for h in merkle_branch(txids, index)],
        header=header.serialize().hex(),
        confirmations=node.tip.height - found.height + 1,
        tx=found.tx.serialize().hex(),
    )
    return base


@router.get("/headers", response_model=None)
async def headers(
    request: Request,
    start: int = Query(..., alias="from", ge=0, le=2**32 - 1, description="first height"),
    count: int = Query(MAX_HEADERS_PER_CALL, ge=1, le=MAX_HEADERS_PER_CALL),
    format: str = Query("json", pattern="^(json|bin)$", description="json (hex) or bin"),
) -> Any:
    """Up to `count` active-chain headers from height `from` (fewer at the tip, none above)."""
    node = _node(request)
    raw: list[bytes] = []
    for height in range(start, min(start + count, node.tip.height + 1)):
        block_hash = node.block_hash_at(height)
        entry = None if block_hash is None else node.entry(block_hash)
        if entry is None:
            break
        raw.append(entry.header.serialize())
    if format == "bin":
        return Response(b"".join(raw), media_type="application/octet-stream")
    return {
        "from": start,
        "count": len(raw),
        "tip": node.tip.height,
        "headers": [h.hex() for h in raw],
    }
