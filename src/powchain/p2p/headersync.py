"""Header sync: `headers` messages, the low-work fork guard and presync (SPEC §6).

What reaches `node.process_headers` passes here first: headers of a deep, low-work fork are
followed by a `presync.Presync` (constant memory per peer) or ignored, never indexed, until the
peer's chain proves our tip's work (see docs/architecture.md, "headers that are not indexed").
`on_rejected` maps a validation rejection of a header or block to the action every component
uses: ban, ask for the parent, retry later, or ignore.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from powchain.consensus.errors import Kind, Rejected
from powchain.consensus.pow import block_work, check_proof_of_work
from powchain.core.block import BlockHeader
from powchain.core.params import ChainParams
from powchain.node.chainstate import IndexEntry

from . import messages as m
from .component import Component, Handler, maybe_await
from .peer import Misbehaving, Peer
from .presync import Presync, Progress
from .sync import continuation_locator

if TYPE_CHECKING:
    from .peerman import PeerManager

__all__ = ["HeaderSync", "LOW_WORK_FORK_DEPTH", "FUTURE_RETRY", "check_headers"]

log = logging.getLogger("powchain.p2p")

LOW_WORK_FORK_DEPTH = 144
"""A complete header branch (fewer than MAX_HEADERS headers) that forks more than this many
blocks below our tip and ends with less work than our tip is ignored, not indexed (anti-DoS:
regtest- or genesis-era proof of work is cheap, so such headers could fill memory and disk)."""
FUTURE_RETRY = 10.0
"""Seconds before asking a peer again for headers we refused only for being in the future."""


class HeaderSync(Component):
    """Per peer: a presync in progress, the redownload budget, a pending future-time retry."""

    def __init__(self, pm: PeerManager) -> None:
        super().__init__(pm)
        self._future_retry: set[int] = set()  # id(peer) with a headers retry scheduled
        self._presync: dict[int, Presync] = {}  # id(peer) -> its low-work chain, followed
        self._redownload: dict[int, int] = {}  # id(peer) -> headers it may still have indexed

    def handlers(self) -> dict[type, Handler]:
        return {m.Headers: self.on_headers}

    def forget(self, peer: Peer) -> None:
        self._presync.pop(id(peer), None)
        self._redownload.pop(id(peer), None)

    def send_getheaders(self, peer: Peer, locator: tuple[bytes, ...]) -> None:
        peer.push(m.GetHeaders(locator[: m.MAX_LOCATOR]))

    async def on_headers(self, peer: Peer, message: m.Headers) -> None:
        headers = message.headers
        if not headers:
            return
        for header in headers:
            peer.known_blocks.add(header.hash)
        try:
            check_headers(headers, self.params)
        except Rejected as exc:
            self.on_rejected(peer, exc, "header")  # a ban: every reason is CONSENSUS
            return
        if self.presync_headers(peer, headers, full=len(headers) == m.MAX_HEADERS):
            return
        try:
            await maybe_await(self.node.process_headers(list(headers)))
        except Rejected as exc:
            self.on_rejected(peer, exc, "header")
            return
        last = self.node.entry(headers[-1].hash)
        if last is not None:
            peer.best_height = max(peer.best_height, last.height)
        if len(headers) == m.MAX_HEADERS:
            locator = continuation_locator(headers[-1].hash, self.node.block_locator())
            self.send_getheaders(peer, locator)
        self.pm.blockfetch.request_blocks(first=peer)

    def presync_headers(self, peer: Peer, headers: Sequence[BlockHeader], full: bool) -> bool:
        """Handle `headers` of a low-work branch without indexing them; False when they are
        for `process_headers`. A complete low-work branch (fewer than MAX_HEADERS) is ignored;
        a full message starts or continues a presync (p2p/presync.py) that asks the peer for
        more until its chain proves our tip's work or ends; a proven chain is asked for again
        from the fork and indexed. Raises Misbehaving for a presync header that does not link
        or lacks its claimed work."""
        key = id(peer)
        presync = self._presync.get(key)
        if presync is not None and presync.follows(headers):
            return self._presync_step(peer, presync, headers, full)
        self._presync.pop(key, None)
        budget = self._redownload.get(key, 0)
        if budget > 0:  # this peer proved the work: index (full header validation applies)
            self._redownload[key] = budget - len(headers)
            return False
        fork = self.low_work_fork(headers)
        if fork is None:
            return False
        if not full:
            log.info("ignored %d low-work side-chain headers from %s", len(headers), peer.address)
            return True
        parent, new = fork
        tip_work = self.node.tip.chainwork
        presync = Presync.start(parent.hash, parent.height, parent.chainwork, tip_work)
        self._presync[key] = presync
        return self._presync_step(peer, presync, new, full)

    def _presync_step(
        self, peer: Peer, presync: Presync, headers: Sequence[BlockHeader], full: bool
    ) -> bool:
        key = id(peer)
        try:
            progress = presync.feed(headers, self.params, full)
        except Rejected as exc:
            self._presync.pop(key, None)
            self.on_rejected(peer, exc, "header")
            return True
        if progress is Progress.MORE:
            locator = continuation_locator(presync.last_hash, self.node.block_locator())
            self.send_getheaders(peer, locator)
        elif progress is Progress.LOW_WORK:
            del self._presync[key]
            log.info(
                "ignored a low-work side chain of %d headers from %s", presync.count, peer.address
            )
        else:
            del self._presync[key]
            self._redownload[key] = presync.count + m.MAX_HEADERS
            log.info("%s proved %d headers of work; downloading them", peer.address, presync.count)
            locator = continuation_locator(presync.fork_hash, self.node.block_locator())
            self.send_getheaders(peer, locator)
        return True

    def low_work_fork(
        self, headers: Sequence[BlockHeader]
    ) -> tuple[IndexEntry, list[BlockHeader]] | None:
        """(indexed parent, headers we do not know yet) when those extend a branch that
        forks more than LOW_WORK_FORK_DEPTH blocks below our tip and end with less work than
        our tip; else None. Such a branch is not indexed (Core bounds it with header presync
        and minimum chain work). Callers pass headers that passed `check_headers`, so the work
        summed is work really done (before, one header claiming ~2**255 of work carried 1,999
        low-work ones to full validation)."""
        node = self.node
        new = [h for h in headers if node.entry(h.hash) is None]
        if not new:
            return None
        parent = node.entry(new[0].prev_block)
        if parent is None:
            return None  # validation answers MISSING_PARENT
        tip = node.tip
        if parent.chainwork + sum(block_work(h.bits) for h in new) >= tip.chainwork:
            return None
        fork = parent
        while fork is not None and not node.in_active_chain(fork):
            fork = fork.prev
        deep = fork is not None and tip.height - fork.height > LOW_WORK_FORK_DEPTH
        return (parent, new) if deep else None

    def on_rejected(self, peer: Peer, exc: Rejected, what: str) -> None:
        """Map a rejection kind to an action: ban (Misbehaving), ask for the parent, retry a
        future header later, or ignore."""
        if exc.kind is Kind.CONSENSUS:
            raise Misbehaving(f"invalid-{what}: {exc.reason}")
        if exc.kind is Kind.MISSING_PARENT:
            self.send_getheaders(peer, tuple(self.node.block_locator()))
        elif exc.kind is Kind.TIME_FUTURE:
            self._retry_future(peer)
        else:
            log.debug("%s from %s not accepted: %r", what, peer.address, exc)

    def _retry_future(self, peer: Peer) -> None:
        """Ask `peer` for headers again in FUTURE_RETRY s: a block refused only for its future
        time is not remembered (SPEC §4) and becomes valid as our clock advances, but its peer
        may never announce it again (the tip of a skewed miner)."""
        if id(peer) in self._future_retry:
            return
        self._future_retry.add(id(peer))

        def fire() -> None:
            self._future_retry.discard(id(peer))
            if peer in self.pm.peers and peer.ready and not peer.closing:
                self.send_getheaders(peer, tuple(self.node.block_locator()))

        asyncio.get_running_loop().call_later(FUTURE_RETRY, fire)


def check_headers(headers: Sequence[BlockHeader], params: ChainParams) -> None:
    """The context-free checks of one `headers` message, before any work is summed or any
    header indexed: each header carries the proof of work its own bits claim (bits
    decodable, target within the pow limit, hash <= target) and links to the one before it.
    Costs one double SHA-256 per header (2,000 at most). Raises Rejected(CONSENSUS):
    'bad-diffbits' (e.g. bits 0), 'high-hash', 'headers-not-linked'."""
    for header in headers:  # Core's order: CheckHeadersPoW, then CheckHeadersAreContinuous
        check_proof_of_work(header, params)
    for before, header in zip(headers, headers[1:], strict=False):
        if header.prev_block != before.hash:
            message = "a header does not link to the one before it in the message"
            raise Rejected(Kind.CONSENSUS, "headers-not-linked", message)
