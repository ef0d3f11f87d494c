"""Serving requests: `ping`, `getaddr`, `getheaders`, `getdata`, `mempool` (SPEC §6).

Each answer here is what one request may cost us; the bound of each lives next to its handler.
Blocks are served as stored bytes (`messages.encode_block_raw`), byte-identical to
`encode(BlockMsg(block))` without a parse and re-serialise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from . import messages as m
from .component import Component, Handler, maybe_await
from .peer import Peer

if TYPE_CHECKING:
    from .peerman import PeerManager

__all__ = ["Serving", "MAX_GETDATA_BLOCKS", "MEMPOOL_INTERVAL", "INV_CHUNK"]

log = logging.getLogger("powchain.p2p")


MAX_GETDATA_BLOCKS = 128
"""Blocks served per `getdata` message; further block items of it are ignored."""
YIELD_EVERY = 1_000
"""Transaction items of a `getdata` between two waits for the send queue to drain."""
MEMPOOL_INTERVAL = 60.0
"""Seconds between two `mempool` answers to one peer."""
INV_CHUNK = 1_000
"""txids per `inv` of a `mempool` answer (33 KB)."""


class Serving(Component):
    def __init__(self, pm: PeerManager) -> None:
        super().__init__(pm)
        self._last_mempool: dict[int, float] = {}  # id(peer) -> when its last answer began
        self._answered_getaddr: set[int] = set()  # id(peer)

    def forget(self, peer: Peer) -> None:
        self._last_mempool.pop(id(peer), None)
        self._answered_getaddr.discard(id(peer))

    def handlers(self) -> dict[type, Handler]:
        return {
            m.Ping: self.on_ping,
            m.GetAddr: self.on_getaddr,
            m.GetHeaders: self.on_getheaders,
            m.GetData: self.on_getdata,
            m.MempoolMsg: self.on_mempool,
        }

    def on_ping(self, peer: Peer, message: m.Ping) -> None:
        peer.push(m.Pong(message.nonce))

    def on_getaddr(self, peer: Peer, message: m.GetAddr) -> None:
        """Answered once per connection (Core answers one getaddr per peer): each answer is
        a random sample of the book (a scan of up to 10,240 rows) and up to 1,000 addresses."""
        if id(peer) in self._answered_getaddr:
            return
        self._answered_getaddr.add(id(peer))
        assert self.pm.addrman is not None
        peer.push(m.Addr(tuple(self.pm.addrman.sample())))

    def peer_has(self, peer: Peer, block_hash: bytes) -> None:
        """The peer has (or is being sent) this block: its height counts as the peer's
        (Core: synced_blocks). A peer we announce to never announces back, and kept the
        height of its handshake in the peers table otherwise (issue 12)."""
        entry = self.node.entry(block_hash)
        if entry is not None:
            peer.best_height = max(peer.best_height, entry.height)

    def on_getheaders(self, peer: Peer, message: m.GetHeaders) -> None:
        if message.locator:  # the first locator hash is the peer's tip
            self.peer_has(peer, message.locator[0])
        headers = self.node.headers_after(list(message.locator), message.stop, m.MAX_HEADERS)
        peer.push(m.Headers(tuple(headers)[: m.MAX_HEADERS]))

    async def on_getdata(self, peer: Peer, message: m.GetData) -> None:
        """Serve lazily (issue 11): each item only once what was queued before it has drained
        to the peer (`Peer.wait_drained`), so one `getdata` holds at most one block in our
        memory whatever it names; a peer that reads nothing for `send_timeout` s is
        disconnected, and no other message of it is handled meanwhile. Per message: duplicates
        are served once, at most MAX_GETDATA_BLOCKS blocks (the rest ignored: an honest peer
        has 16 in flight), the `notfound` answer lists only what we lack."""
        missing: list[m.InvItem] = []
        seen: set[m.InvItem] = set()
        blocks = 0
        for count, item in enumerate(message.items):
            if item in seen:
                continue
            seen.add(item)
            if item.type == m.InvType.PROPOSAL:  # validator networks: counts as a block
                blocks += 1
                if blocks > MAX_GETDATA_BLOCKS:
                    continue
                if not await peer.wait_drained(self.pm.send_timeout):
                    return
                if not self.pm.validators.serve_proposal(peer, item.hash):
                    missing.append(item)
                continue
            if item.type == m.InvType.BLOCK:
                blocks += 1
                if blocks > MAX_GETDATA_BLOCKS:
                    continue
                if not await peer.wait_drained(self.pm.send_timeout):
                    return
                # the stored bytes as they are: no parse and re-serialize of a 1 MB body
                raw = await maybe_await(self.node.get_block_raw(item.hash))
                if raw is None:
                    missing.append(item)
                else:
                    peer.push_frame(m.encode_block_raw(raw))
                    self.peer_has(peer, item.hash)
                continue
            if count % YIELD_EVERY == YIELD_EVERY - 1:
                await asyncio.sleep(0)  # let other peers run between batches
                if not await peer.wait_drained(self.pm.send_timeout):
                    return
            tx = self.node.mempool.get(item.hash)
            if tx is None:
                missing.append(item)
            else:
                peer.push(m.TxMsg(tx))
        if missing and await peer.wait_drained(self.pm.send_timeout):
            peer.push(m.NotFound(tuple(missing)))

    async def on_mempool(self, peer: Peer, message: m.MempoolMsg) -> None:
        """BIP-35, bounded (issue 11; Core serves it only to whitelisted peers): one answer
        per peer per MEMPOOL_INTERVAL s (requests in between are ignored), at most
        MAX_INV_ITEMS txids the peer is not known to have, sent as `inv` of INV_CHUNK items
        each only once the one before drained. Cost per answer: one pass over the pool and
        at most 1.7 MB queued over time; before, each 1-byte request sorted the pool and
        queued an inv of all of it at once (40 requests, 40,000 txs: 49 MB)."""
        now = time.monotonic()
        last = self._last_mempool.get(id(peer))
        if last is not None and now - last < MEMPOOL_INTERVAL:
            log.debug(
                "ignored a mempool request from %s: one per %.0f s", peer.address, MEMPOOL_INTERVAL
            )
            return
        self._last_mempool[id(peer)] = now
        txids = [tx.txid for tx in self.node.mempool.txs()]
        fresh = [t for t in txids if t not in peer.known_txs][: m.MAX_INV_ITEMS]
        for start in range(0, len(fresh), INV_CHUNK):
            if not await peer.wait_drained(self.pm.send_timeout):
                return
            chunk = fresh[start : start + INV_CHUNK]
            for txid in chunk:
                peer.known_txs.add(txid)
            peer.push(m.Inv(tuple(m.InvItem(m.InvType.TX, t) for t in chunk)))
