"""The peer protocol of validator networks (issue 14): proposals, signatures, evidence.

`ValidatorRelay(manager)` is the part of the peer manager that speaks `p2p/valmsgs.py`. Inbound
messages go to the node's proposer (`on_proposal`, `on_signature`, when the node is a
validator) and to the engine (`submit_evidence`); what they refuse as CONSENSUS bans the
sender (`Misbehaving`): a proposal by the wrong proposer or with too few or forged
signatures, a signature that does not verify, evidence that convicts nobody. Outbound, the
proposer calls `broadcast_proposal` / `broadcast_signature` (exposed on `node.network`), and
new evidence (`EvidenceFound`) is relayed to every peer once. Final blocks travel as any
block: announced with `headers`, fetched with `getdata`.

Catching up on an open height (the resume after a halt): a validator that is locked on a
proposal sends its signature to every new peer (`on_ready`) and again every heartbeat. A
validator that receives a signature for a block it has not seen asks that peer for the
proposal with `getdata` (inventory type PROPOSAL), once per block and tip per ASK_AGAIN s, and
signs it when it is valid. A returning validator so joins the proposal the others are locked on
at once, instead of waiting for a round whose proposer is online (the rounds have grown long
during the halt).

Every message is bounded by the frame limit and its parser; a proposal for a height other than
the next one costs one comparison, a repeated proposal one signature check per new signature.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from powchain.consensus.errors import Kind, Rejected
from powchain.consensus.signatures import Evidence, parse_trailer
from powchain.core.block import Block
from powchain.node.validators import EvidenceFound

from . import messages as m
from .component import Component, Handler
from .peer import KnownSet, Misbehaving, Peer
from .valmsgs import BlockSignature, EvidenceMsg, Proposal

if TYPE_CHECKING:
    from .peerman import PeerManager

__all__ = ["ValidatorRelay"]

log = logging.getLogger("powchain.p2p")

ASK_AGAIN = 3.0
"""Seconds before the same proposal (block hash, on the same tip) is asked for again."""
MAX_ASKED = 256
"""Proposal requests remembered (bounded; the oldest go first)."""


class ValidatorRelay(Component):
    """Validator messages of one peer manager (see the module docstring)."""

    def __init__(self, pm: PeerManager) -> None:
        super().__init__(pm)
        self._evidence_seen = KnownSet(1_000)
        self._asked: OrderedDict[bytes, float] = OrderedDict()  # block hash + tip -> when

    def on_event(self, event: object) -> None:
        """Node events: new evidence goes to every peer once."""
        if isinstance(event, EvidenceFound):
            self.relay_evidence(event.evidence)

    def handlers(self) -> dict[type, Handler]:
        """Message class -> handler, merged into the manager's dispatch table."""
        return {
            Proposal: self.on_proposal,
            BlockSignature: self.on_signature,
            EvidenceMsg: self.on_evidence,
        }

    # -- inbound ------------------------------------------------------------------------------

    def _producer(self) -> Any:
        producer = getattr(self.node, "producer", None)
        return producer if hasattr(producer, "on_proposal") else None

    def _judge(self, exc: Rejected, what: str) -> None:
        if exc.kind is Kind.CONSENSUS:
            raise Misbehaving(f"invalid-{what}: {exc.reason}")
        log.debug("%s not used: %r", what, exc)

    def on_proposal(self, peer: Peer, message: Proposal) -> None:
        producer = self._producer()
        if producer is None:
            return
        peer.known_blocks.add(message.block.hash)
        try:
            producer.on_proposal(message.round, message.block)
        except Rejected as exc:
            self._judge(exc, "proposal")

    def on_signature(self, peer: Peer, message: BlockSignature) -> None:
        producer = self._producer()
        if producer is None:
            return
        try:
            producer.on_signature(message.block_hash, message.key, message.signature)
        except Rejected as exc:
            self._judge(exc, "signature")
            return
        self._ask_proposal(peer, message)

    def _ask_proposal(self, peer: Peer, message: BlockSignature) -> None:
        """`getdata` PROPOSAL for a block a current validator signed (the signature verifies;
        a forged one bans) and we have not seen, once per (block, our tip) per ASK_AGAIN s:
        the cheap checks first, the signature check after them."""
        block_hash = message.block_hash
        key = block_hash + self.node.tip.hash
        now = time.monotonic()
        asked = self._asked.get(key)
        if asked is not None and now - asked < ASK_AGAIN:
            return
        producer = self._producer()
        try:
            if producer is None or not producer.wants(block_hash, message.key, message.signature):
                return
        except Rejected as exc:
            self._judge(exc, "signature")  # forged by a validator's key: a ban
            return
        self._asked[key] = now
        self._asked.move_to_end(key)
        while len(self._asked) > MAX_ASKED:
            self._asked.popitem(last=False)
        peer.push(m.GetData((m.InvItem(m.InvType.PROPOSAL, block_hash),)))

    def on_ready(self, peer: Peer) -> None:
        """A new peer: the signature we are locked on at the open height, if any, so that a
        validator that (re)joins asks for the proposal at once."""
        producer = self._producer()
        standing = producer.standing_signature() if producer is not None else None
        if standing is not None:
            peer.push(BlockSignature(*standing))

    def serve_proposal(self, peer: Peer, block_hash: bytes) -> bool:
        """Answer `getdata` PROPOSAL: the proposal with every signature we hold for it; False
        when we hold none (the caller answers `notfound`). Costs what serving a block costs
        (the caller waits for the peer's queue to drain first)."""
        producer = self._producer()
        found = producer.proposal(block_hash) if producer is not None else None
        if found is None:
            return False
        round_, block = found
        peer.push(Proposal(round_, block))
        return True

    def on_evidence(self, peer: Peer, message: EvidenceMsg) -> None:
        engine = self.node.engine
        if not hasattr(engine, "submit_evidence"):
            return
        key = message.header_a.hash + message.header_b.hash
        if key in self._evidence_seen:
            return
        self._evidence_seen.add(key)
        try:
            evidence = Evidence(
                message.header_a,
                parse_trailer(message.trailer_a),
                message.header_b,
                parse_trailer(message.trailer_b),
            )
            engine.submit_evidence(self.node.chainstate, evidence)
        except Rejected as exc:
            self._judge(exc, "evidence")

    # -- outbound -----------------------------------------------------------------------------

    def _ready(self) -> list[Peer]:
        return [p for p in self.pm.peers if p.ready and not p.closing]

    def broadcast_proposal(self, round_: int, block: Block, split: bool = False) -> None:
        """Send a proposal to every ready peer (`split`: to the first one only; tests of a
        lying validator)."""
        peers = self._ready()
        for peer in peers[:1] if split else peers:
            peer.push(Proposal(round_, block))

    def broadcast_signature(self, block_hash: bytes, key: bytes, signature: bytes) -> None:
        for peer in self._ready():
            peer.push(BlockSignature(block_hash, key, signature))

    def relay_evidence(self, evidence: Evidence) -> None:
        message = EvidenceMsg.of(evidence)
        self._evidence_seen.add(message.header_a.hash + message.header_b.hash)
        for peer in self._ready():
            peer.push(message)
