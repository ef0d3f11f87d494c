"""Endpoints of SPEC §7 under /api/v1. Each route parses the edge (hex, addresses, ids), asks
the Node facade, and shapes JSON with `schemas`. Routes are `async def` so they run on the
node's event loop, never in a thread next to it.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from .. import __version__
from ..core.encoding import ParseError
from ..core.hashing import hash_to_hex, hex_to_hash
from ..core.keys import AddressError, decode_address
from ..core.transaction import Transaction
from .bounds import before_query, cursor_query, limit_query
from .errors import ApiProblem
from .history import history_page
from .metrics import CONTENT_TYPE
from .schemas import (
    MineRequest,
    PeerRequest,
    TxSubmit,
    address_or_none,
    bits_hex,
    block_json,
    header_json,
    tx_json,
    work_hex,
)

__all__ = ["router", "mempool_stats", "submit_raw_hex"]

router = APIRouter(prefix="/api/v1")

MAX_HEIGHT_DIGITS = 10


def _node(request: Request) -> Any:
    return request.app.state.node


# -- edge parsing --------------------------------------------------------------------------


def parse_hash(text: str, what: str) -> bytes:
    """32 bytes from people's hex (byte-reversed); 400 `bad-{what}` otherwise."""
    try:
        return hex_to_hash(text)
    except ValueError as exc:
        raise ApiProblem(400, f"bad-{what}", f"{what} must be 64 hex digits") from exc


def parse_address(node: Any, text: str) -> bytes:
    """The public key inside an address of the node's network; 400 `bad-address` otherwise."""
    try:
        return decode_address(text, node.params.hrp)
    except AddressError as exc:
        raise ApiProblem(400, "bad-address", str(exc)) from exc


def require_admin(request: Request) -> None:
    """401 unless `Authorization: Bearer <token of DATADIR/api.cookie>`."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiProblem(401, "unauthorized", "admin call: send Authorization: Bearer <api.cookie>")
    if not hmac.compare_digest(token.strip().encode(), request.app.state.token.encode()):
        raise ApiProblem(401, "unauthorized", "wrong admin token (see DATADIR/api.cookie)")


def _confirmations(node: Any, height: int | None) -> int:
    return 0 if height is None else node.tip.height - height + 1


def _resolve_block(node: Any, block_id: str) -> Any:
    """IndexEntry for a height (active chain) or a hash; 400 malformed, 404 unknown."""
    if block_id.isdigit() and len(block_id) <= MAX_HEIGHT_DIGITS:
        block_hash = node.block_hash_at(int(block_id))
        if block_hash is None:
            raise ApiProblem(404, "not-found", f"no block at height {block_id}")
    else:
        block_hash = parse_hash(block_id, "block-id")
    entry = node.entry(block_hash)
    if entry is None or not entry.has_data:
        raise ApiProblem(404, "not-found", f"unknown block {block_id}")
    return entry


def _block_confirmations(node: Any, entry: Any) -> int:
    """Bitcoin Core's convention: -1 for a block off the active chain."""
    return _confirmations(node, entry.height) if node.in_active_chain(entry) else -1


def stratum_stats(node: Any) -> dict[str, Any]:
    """The Stratum server's statistics (`node.stratum`, attached by the stratum package while
    it runs: api never imports it), or `{"enabled": false, ...}`."""
    server = getattr(node, "stratum", None)
    if server is None:
        return {
            "enabled": False,
            "url": None,
            "connections": 0,
            "workers": [],
            "hashrate": 0.0,
            "shares": {"accepted": 0, "rejected": {}},
            "blocks_found": 0,
            "recent_blocks": [],
        }
    return dict(server.stats())


def connected_peers(node: Any) -> int:
    """Peers past the handshake (peer_info also lists recently refused ones)."""
    if node.network is None:
        return 0
    return sum(1 for p in node.network.peer_info() if p.get("connected", True))


# -- status and blocks ---------------------------------------------------------------------


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """Tip, difficulty, mempool size, peer count and sync state of the node; hash rates in
    hashes/s: `network_hashrate` estimated from the chainwork of the last 120 blocks over their
    timestamps, `miner_hashrate` this node's miner (null when unknown)."""
    node = _node(request)
    tip = node.tip
    return {
        "network": node.params.name,
        "chain_id": node.params.chain_id,
        "height": tip.height,
        "tip": hash_to_hex(tip.hash),
        "bits": bits_hex(tip.header.bits),
        "difficulty": node.difficulty(),
        "chainwork": work_hex(tip.chainwork),
        "network_hashrate": node.network_hashrate(),
        "miner_hashrate": node.miner_hashrate(),
        "mempool_size": len(node.mempool),
        "peers": connected_peers(node),
        "synced": bool(node.is_synced()),
        "version": __version__,
        "p2p_port": _p2p_port(node),
    }


def _p2p_port(node: Any) -> int | None:
    """The port this node listens on for peers (None without networking)."""
    return getattr(node.network, "listen_port", None) or None


@router.get("/blocks")
async def blocks(
    request: Request,
    before: int | None = before_query("only heights below this"),
    limit: int = limit_query(),
) -> dict[str, Any]:
    """Active-chain block summaries, newest first; `next` is the `before` of the next page."""
    node = _node(request)
    top = node.tip.height if before is None else min(before - 1, node.tip.height)
    out = []
    for height in range(top, max(top - limit, -1), -1):
        block = node.get_block(node.block_hash_at(height))
        if block is None:
            continue
        summary = header_json(block.header, height, _confirmations(node, height))
        summary.update(size=block.size, tx_count=len(block.txs))
        out.append(summary)
    lowest = top - limit + 1
    return {"blocks": out, "next": lowest if lowest > 0 else None}


@router.get("/blocks/{block_id}")
async def block(
    request: Request,
    block_id: str,
    txs: str | None = Query(None, pattern="^full$", description="`full` adds decoded txs"),
) -> dict[str, Any]:
    """A block by hash or height: header fields, size, confirmations, txids (and txs)."""
    node = _node(request)
    entry = _resolve_block(node, block_id)
    body = node.get_block(entry.hash)
    if body is None:
        raise ApiProblem(404, "not-found", f"block {block_id} has no stored body")
    conf = _block_confirmations(node, entry)
    return block_json(body, entry.height, conf, txs == "full", node.params)


@router.get("/blocks/{block_id}/raw")
async def block_raw(request: Request, block_id: str) -> dict[str, Any]:
    """The serialized block as hex."""
    node = _node(request)
    entry = _resolve_block(node, block_id)
    raw = node.get_block_raw(entry.hash)
    if raw is None:
        raise ApiProblem(404, "not-found", f"block {block_id} has no stored body")
    return {"hash": hash_to_hex(entry.hash), "raw": raw.hex()}


# -- transactions --------------------------------------------------------------------------


@router.get("/txs/{txid}")
async def get_tx(request: Request, txid: str) -> dict[str, Any]:
    """Decoded transaction and its state: `pending` (mempool) or `confirmed` (block, height)."""
    node = _node(request)
    found = node.get_transaction(parse_hash(txid, "txid"))
    if found is None:
        raise ApiProblem(404, "not-found", f"unknown transaction {txid}")
    return _lookup_json(node, found)


def _lookup_json(node: Any, found: Any) -> dict[str, Any]:
    out = tx_json(found.tx, node.params)
    confirmed = found.block_hash is not None
    out["status"] = "confirmed" if confirmed else "pending"
    out["block"] = hash_to_hex(found.block_hash) if confirmed else None
    out["height"] = found.height if confirmed else None
    out["confirmations"] = _confirmations(node, found.height if confirmed else None)
    return out


@router.post("/txs", status_code=202)
async def submit_tx(request: Request, body: TxSubmit) -> dict[str, str]:
    """Submit a serialized transaction; 202 with its txid, or the node's rejection."""
    return {"txid": submit_raw_hex(_node(request), body.raw)}


def submit_raw_hex(node: Any, raw: str) -> str:
    """Parse the hex of a serialized transaction and submit it to `node`'s mempool; its txid
    (byte-reversed hex). Raises ApiProblem 400 (`bad-encoding`, `bad-coinbase`,
    `wrong-chain`) or the node's `Rejected`. Shared by the route and `fastpath`."""
    try:
        tx = Transaction.from_bytes(bytes.fromhex(raw))
    except (ValueError, ParseError) as exc:
        raise ApiProblem(400, "bad-encoding", f"not a serialized transaction: {exc}") from exc
    if tx.is_coinbase:
        raise ApiProblem(400, "bad-coinbase", "a coinbase only exists inside a block")
    if tx.chain_id != node.params.chain_id:
        raise ApiProblem(400, "wrong-chain", f"chain_id {tx.chain_id:#x} is not this network's")
    return hash_to_hex(node.submit_transaction(tx))


# -- accounts and posts --------------------------------------------------------------------


@router.get("/accounts/{address}")
async def account(request: Request, address: str) -> dict[str, Any]:
    """Spendable `balance`, `immature` coinbase, confirmed `nonce`; mempool-aware
    `pending_balance` and `next_nonce` (the nonce to sign the next transaction with)."""
    node = _node(request)
    info = node.account_info(parse_address(node, address))
    return {
        "address": address,
        "balance": info.balance,
        "immature": info.immature,
        "nonce": info.nonce,
        "pending_balance": info.pending_balance,
        "next_nonce": info.next_nonce,
    }


@router.get("/accounts/{address}/txs")
async def account_txs(
    request: Request,
    address: str,
    cursor: str | None = cursor_query(),
    limit: int = limit_query(),
) -> dict[str, Any]:
    """The address's confirmed transactions, newest first, one entry per transaction:
    `direction` (`in`, `out`, or `self` for a post or a payment to oneself), `delta` (signed
    units: what it did to balance + immature) and `balance_after` (balance + immature after
    it, units); the deltas of all pages sum to balance + immature. Pass `next_cursor` back as
    `cursor` for older ones."""
    node = _node(request)
    pub = parse_address(node, address)
    try:
        rows, next_cursor = history_page(node, pub, cursor or None, limit)
    except ValueError as exc:  # BadParameter, or a cursor storage cannot place
        raise ApiProblem(400, "bad-cursor", "cursor must be a next_cursor from a page") from exc
    txs = []
    for row in rows:
        entry = _lookup_json(node, row.found)
        entry["direction"] = DIRECTIONS[row.kind]
        entry.update(delta=row.delta, balance_after=row.balance_after)
        txs.append(entry)
    return {"address": address, "txs": txs, "next_cursor": next_cursor}


DIRECTIONS = {"received": "in", "coinbase": "in", "sent": "out", "self": "self"}


@router.get("/posts")
async def posts(
    request: Request,
    before: int | None = before_query("only posts below this height"),
    limit: int = limit_query(),
) -> dict[str, Any]:
    """Confirmed posts, newest first: author address, text, txid, block height and time."""
    node = _node(request)
    records = node.posts(before, limit)
    return {
        "posts": [
            {
                "author": address_or_none(node.params, rec.author),
                "text": rec.text,
                "txid": hash_to_hex(rec.txid),
                "height": rec.height,
                "time": rec.time,
            }
            for rec in records
        ]
    }


# -- mempool -------------------------------------------------------------------------------


MEMPOOL_TXIDS = 1_000
"""Txids `GET /mempool` lists at most (the oldest first): the answer is bounded whatever the
pool holds (a 50 MB pool is ~300,000 transactions)."""


def mempool_stats(node: Any) -> dict[str, Any]:
    """`count`, `bytes`, `total_fees` and fee rates (units per 1,000 bytes): read from the
    mempool's counters, O(log n), never a sort of the pool."""
    return dict(node.mempool.fee_stats())


@router.get("/mempool")
async def mempool(request: Request) -> dict[str, Any]:
    """Transactions waiting for a block: the statistics, and `txids` of the oldest
    MEMPOOL_TXIDS (1,000) in arrival order (`count` says how many there are)."""
    node = _node(request)
    stats = mempool_stats(node)
    stats["txids"] = [hash_to_hex(tx.txid) for tx in node.mempool.txs(MEMPOOL_TXIDS)]
    return stats


# -- peers, mining, events, metrics --------------------------------------------------------


@router.get("/peers")
async def peers(request: Request) -> dict[str, Any]:
    """Connected peers (empty when the node runs without networking)."""
    node = _node(request)
    return {"peers": node.network.peer_info() if node.network is not None else []}


@router.get("/stratum")
async def stratum(request: Request) -> dict[str, Any]:
    """The Stratum v1 server (`powchain node --stratum`): its URL, connected workers with
    each one's estimated hash rate (hashes/s, from accepted shares over 5 min), shares
    accepted and rejected by reason (`stale`, `duplicate`, `low-difficulty`,
    `unauthorized`, `not-subscribed`, `other`), blocks found. `enabled` false when off."""
    return stratum_stats(_node(request))


def _split_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ApiProblem(400, "bad-peer-address", "peer address must be host:port")
    return host, int(port)


@router.post("/peers", status_code=202)
async def add_peer(request: Request, body: PeerRequest) -> dict[str, Any]:
    """Connect to a peer (admin)."""
    require_admin(request)
    node = _node(request)
    host, port = _split_hostport(body.address)
    if node.network is None:
        raise ApiProblem(503, "no-network", "this node runs without peer-to-peer networking")
    try:
        info = await asyncio.wait_for(node.network.connect(host, port), 30)
    except TimeoutError as exc:
        raise ApiProblem(504, "connect-timeout", f"no handshake with {host}:{port}") from exc
    except ConnectionError as exc:  # the dialer's reason, one line
        reason = str(exc)
        error = "not-a-p2p-port" if reason.startswith("not-a-p2p-port") else "connect-failed"
        raise ApiProblem(502, error, f"cannot connect to {host}:{port}: {reason}") from exc
    except OSError as exc:
        raise ApiProblem(502, "connect-failed", f"cannot connect to {host}:{port}: {exc}") from exc
    return {"address": f"{host}:{port}", "peer": info}


@router.get("/bans")
async def bans(request: Request) -> dict[str, Any]:
    """Banned peers: `address` (a host, or `127.0.0.1:PORT` on loopback), `banned_at`, `until`
    (Unix seconds) and `reason` (Core: listbanned)."""
    node = _node(request)
    return {"bans": node.network.ban_list() if node.network is not None else []}


@router.delete("/bans/{address}")
async def unban(request: Request, address: str) -> dict[str, Any]:
    """Lift the ban of `address` as listed by GET /bans (admin; Core: setban remove); 404 when
    there is none."""
    require_admin(request)
    node = _node(request)
    if node.network is None or not node.network.unban(address[:300]):
        raise ApiProblem(404, "not-found", f"{address[:300]} is not banned")
    return {"unbanned": [address]}


@router.delete("/bans")
async def clear_bans(request: Request) -> dict[str, Any]:
    """Lift every ban (admin; Core: clearbanned)."""
    require_admin(request)
    node = _node(request)
    lifted = [str(b["address"]) for b in (node.network.ban_list() if node.network else [])]
    for key in lifted:
        node.network.unban(key)
    return {"unbanned": lifted}


@router.post("/mine")
async def mine(request: Request, body: MineRequest) -> dict[str, Any]:
    """Mine `blocks` blocks now paying `address` (admin; networks with mine_on_demand)."""
    require_admin(request)
    node = _node(request)
    if not node.params.mine_on_demand:
        raise ApiProblem(403, "not-allowed", f"mining on demand is off on {node.params.name}")
    if body.address is not None:
        recipient = parse_address(node, body.address)
    elif node.config.miner_address is not None:
        recipient = node.config.miner_address
    else:
        raise ApiProblem(400, "bad-address", "give an address to pay the blocks to")
    hashes = await node.mine_blocks(body.blocks, recipient)
    return {"blocks": [hash_to_hex(h) for h in hashes]}


@router.get("/events")
async def events(request: Request) -> StreamingResponse:
    """Server-sent events: `block`, `tx`, `reorg` (JSON data). At most `sse.MAX_CLIENTS`
    streams at once: 503 `too-many-streams` beyond."""
    hub = request.app.state.events
    if hub.full:
        raise ApiProblem(503, "too-many-streams", f"{hub.max_clients} event streams are open")
    stream = hub.stream(request.is_disconnected)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE)
