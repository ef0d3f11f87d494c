"""Serving requests: `ping`, `getaddr`, `getheaders`, `getdata`, `mempool` (SPEC §6).

Each answer here is what one request may cost us; the bound of each lives next to its handler.
Blocks are served as stored bytes (`messages.encode_block_raw`), byte-identical to
`encode(BlockMsg(block))` without a parse and re-serialise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import messages as m
from .component import Component, Handler, maybe_await
from .peer import Peer

if TYPE_CHECKING:
    from .peerman import PeerManager

__all__ = ["Serving"]


class Serving(Component):
    def __init__(self, pm: PeerManager) -> None:
        super().__init__(pm)

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
        assert self.pm.addrman is not None
        peer.push(m.Addr(tuple(self.pm.addrman.sample())))

    def on_getheaders(self, peer: Peer, message: m.GetHeaders) -> None:
        headers = self.node.headers_after(list(message.locator), message.stop, m.MAX_HEADERS)
        peer.push(m.Headers(tuple(headers)[: m.MAX_HEADERS]))

    async def on_getdata(self, peer: Peer, message: m.GetData) -> None:
        missing: list[m.InvItem] = []
        for item in message.items:
            if item.type == m.InvType.BLOCK:
                # the stored bytes as they are: no parse and re-serialize of a 1 MB body
                raw = await maybe_await(self.node.get_block_raw(item.hash))
                if raw is None:
                    missing.append(item)
                else:
                    peer.push_frame(m.encode_block_raw(raw))
            else:
                tx = self.node.mempool.get(item.hash)
                if tx is None:
                    missing.append(item)
                else:
                    peer.push(m.TxMsg(tx))
        if missing:
            peer.push(m.NotFound(tuple(missing)))

    def on_mempool(self, peer: Peer, message: m.MempoolMsg) -> None:
        txids = [tx.txid for tx in self.node.mempool.txs()]
        for start in range(0, len(txids), m.MAX_INV_ITEMS):
            chunk = txids[start : start + m.MAX_INV_ITEMS]
            for txid in chunk:
                peer.known_txs.add(txid)
            peer.push(m.Inv(tuple(m.InvItem(m.InvType.TX, t) for t in chunk)))
