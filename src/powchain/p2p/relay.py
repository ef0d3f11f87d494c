"""Relay: announcements in (`inv`, `tx`) and out (from node events only) (SPEC §6).

Nothing unvalidated leaves here: a transaction is announced after the mempool accepted it
(`TxAccepted`), a block after it became the tip (`TipChanged`, announced as its header).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from powchain.consensus.errors import Rejected
from powchain.core.hashing import hash_to_hex
from powchain.node.events import TipChanged, TxAccepted

from . import messages as m
from .component import Component, Handler, maybe_await
from .peer import KnownSet, Misbehaving, Peer

if TYPE_CHECKING:
    from .peerman import PeerManager

__all__ = ["Relay", "RECENT_REJECTS"]

log = logging.getLogger("powchain.p2p")

RECENT_REJECTS = 20_000
"""txids rejected since the last tip change, not downloaded again (Core: recentRejects)."""


class Relay(Component):
    def __init__(self, pm: PeerManager) -> None:
        super().__init__(pm)
        self._rejected_txs = KnownSet(RECENT_REJECTS)

    def handlers(self) -> dict[type, Handler]:
        return {m.Inv: self.on_inv, m.TxMsg: self.on_tx}

    # -- in ---------------------------------------------------------------------------------

    def on_inv(self, peer: Peer, message: m.Inv) -> None:
        wanted: list[m.InvItem] = []
        announces_block = False
        for item in message.items:
            if item.type == m.InvType.TX:
                peer.known_txs.add(item.hash)
                if item.hash not in self._rejected_txs and self.node.mempool.get(item.hash) is None:
                    wanted.append(item)
            elif item.type == m.InvType.BLOCK:
                peer.known_blocks.add(item.hash)
                announces_block = announces_block or self.node.entry(item.hash) is None
        if wanted:
            peer.push(m.GetData(tuple(wanted)))
        if announces_block:
            self.pm.headersync.send_getheaders(peer, tuple(self.node.block_locator()))

    async def on_tx(self, peer: Peer, message: m.TxMsg) -> None:
        tx = message.tx
        peer.txs_received += 1
        peer.known_txs.add(tx.txid)
        if self.node.mempool.get(tx.txid) is not None:
            return
        try:
            await maybe_await(self.node.submit_transaction(tx))
        except Rejected as exc:
            self._rejected_txs.add(tx.txid)
            if exc.stateless:  # a bad signature or a malformed tx: invalid whatever our state
                raise Misbehaving(f"invalid-tx: {exc.reason}") from exc
            # not a ban: a valid tx can fail against our state (nonce race, reorg)
            log.debug("tx %s from %s not accepted: %r", hash_to_hex(tx.txid), peer.address, exc)
        else:
            peer.last_tx_at = time.monotonic()  # protects it from eviction

    # -- out (node events) -------------------------------------------------------------------

    def on_event(self, event: object) -> None:
        if isinstance(event, TxAccepted):
            self.relay_tx(event.tx.txid)
        elif isinstance(event, TipChanged):
            self._rejected_txs = KnownSet(RECENT_REJECTS)  # the new tip may make them valid
            self.announce_block(event.hash)
            self.pm.blockfetch.request_blocks(refill=True)

    def relay_tx(self, txid: bytes) -> None:
        item = m.InvItem(m.InvType.TX, txid)
        for peer in self.pm.peers:
            if peer.ready and txid not in peer.known_txs:
                peer.known_txs.add(txid)
                peer.push(m.Inv((item,)))

    def announce_block(self, block_hash: bytes) -> None:
        entry = self.node.entry(block_hash)
        if entry is None:
            return
        for peer in self.pm.peers:
            if peer.ready and block_hash not in peer.known_blocks:
                peer.known_blocks.add(block_hash)
                peer.push(m.Headers((entry.header,)))
