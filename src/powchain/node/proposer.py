"""Block production of a validator network (issue 14): propose, validate, sign, finalize.

One `Proposer` per node started with `--validator-key`. For the next height h = tip + 1 it
follows rounds: round 0 starts `block_time` seconds after the tip became final, round r lasts
`round_timeout * (r + 1)` seconds (timeouts grow so that rounds of validators whose clocks or
tips are a little apart overlap less each round, CometBFT's timeout_propose_delta). The
proposer for (h, r) (`valset.proposer_for`) builds a block (or re-proposes the block it is
locked on), signs it and sends it to the validators; it repeats the proposal every
REPROPOSE_INTERVAL s during its round, so a validator that comes back finds it.

Every validator that receives a proposal validates it fully (header context, signatures,
the state transition on the tip) before signing, signs only through the `SignRecord` (never two
blocks at one height, persisted before the signature leaves), and sends its signature to every
peer. Whoever holds T counting signatures first assembles the final block and passes it to
`node.process_block`, the one inbound path; the peer manager announces it as any block.

A validator that returns after a halt joins the height where it stands: it listens LISTEN s
before proposing on an old tip, hears the signature of whoever is locked there (re-sent every
HEARTBEAT s and to every new peer), asks for that proposal and signs it (`wants`,
`proposal`, `standing_signature`; p2p/validators.py): while listening only a proposal its
signature makes final, after it the one with the most signatures (`_join_best`). The
height is then final in the round in progress, however long the rounds have grown
(tests/integration/test_validators_p2p.py).

A validator that saw a key sign two different blocks at one height submits the evidence
(node/validators.py). Transport: `node.network.broadcast_proposal(round, block, split)` and
`broadcast_signature(block_hash, key, sig)` (p2p/validators.py); inbound: `on_proposal`,
`on_signature`, which raise `Rejected(CONSENSUS)` for what deserves a ban.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

from ..consensus.errors import Kind, Rejected
from ..consensus.signatures import (
    Evidence,
    Signature,
    encode_trailer,
    parse_trailer,
    signing_hash,
    trailer_size,
    valid_signers,
)
from ..consensus.valset import ValidatorSet, proposer_for
from ..core.block import Block
from ..core.keys import schnorr_sign, schnorr_verify
from .crashpoints import crash_point
from .events import BlockConnected, Event, TipChanged
from .proposal_check import check_proposal
from .signrecord import SignRecord, SignRefused

if TYPE_CHECKING:
    from .node import Node
    from .validators import ValidatorNodeEngine

__all__ = ["Proposer", "round_offset", "REPROPOSE_INTERVAL", "MIN_ROUND_TIMEOUT", "EQUIVOCATE_ENV"]

log = logging.getLogger(__name__)

TICK = 0.1
REPROPOSE_INTERVAL = 1.0
HEARTBEAT = 1.0
"""Seconds between re-sends of our signature at a height where no block is final yet: the
other validators see us online, a late proposer can still collect it, and a validator that
returns after a halt asks for the proposal it names (p2p/validators.py)."""
LISTEN = 1.5 * HEARTBEAT
"""Seconds a validator listens before it proposes a block of its own when it arrives at a
height on an old tip or first after it started: whoever is locked at that height re-sends its
signature every HEARTBEAT s, and this validator asks for that proposal and signs it instead of
locking on a block of its own (which would split the height's signatures for good)."""
OFFLINE_ROUNDS = 3
"""A validator not heard for OFFLINE_ROUNDS x (block time + round timeout) s, at least
MIN_OFFLINE s, is skipped as proposer: the next one in line proposes at the round's start,
claiming its own later round, instead of waiting for the absent one's timeout (Clique lets
out-of-turn signers seal; here the claimed round keeps the proposer rule exact)."""
MIN_OFFLINE = 10.0
MIN_ROUND_TIMEOUT = 2.0
"""Shortest round (s): a block time of 0 still gives a missing proposer this long."""
MAX_PROPOSALS_PER_KEY = 2
"""Proposals of one proposer kept per height: the second proves equivocation, more add nothing."""
MAX_BUFFERED = 256
"""Signatures kept for proposals not seen yet (bounded; the oldest go first)."""
EQUIVOCATE_ENV = "POWCHAIN_TEST_EQUIVOCATE"
"""Tests only: when set, this validator signs a second block at each height it proposes and
sends it to one peer (a lying validator, for the evidence tests)."""


def round_offset(round_: int, block_time: float, timeout: float) -> float:
    """Seconds after the tip became final that round `round_` starts: the block time, then
    rounds 0 .. round_ - 1 lasting timeout x 1, 2, ... (closed form of their sum)."""
    return block_time + timeout * round_ * (round_ + 1) / 2


class Proposer:
    """The validator loop of one node (see the module docstring)."""

    def __init__(self, node: Node, engine: ValidatorNodeEngine, secret: bytes) -> None:
        self.node = node
        self.engine = engine
        self.record = SignRecord(node.config.datadir, secret)
        self.key = self.record.key
        self._secret = secret
        spacing = float(node.params.target_spacing)
        self.block_time = spacing
        self.round_timeout = max(2.0 * spacing, MIN_ROUND_TIMEOUT)
        self.height = -1
        self.round = 0
        self.round_timeouts = 0
        """Rounds that ended by their timeout since this process started (rounds skipped by
        catching up to a proposal's round are not counted; CometBFT: consensus_rounds)."""
        self._anchor = 0.0
        self._listen_until = 0.0
        self._started = time.monotonic()
        self.offline_after = max(MIN_OFFLINE, OFFLINE_ROUNDS * (spacing + self.round_timeout))
        self._last_proposal = 0.0
        self._last_heartbeat = 0.0
        self._proposals: dict[bytes, Block] = {}  # validated blocks at self.height
        self._sigs: dict[bytes, dict[bytes, bytes]] = {}  # block hash -> key -> signature
        self._seen: dict[bytes, bytes] = {}  # key -> the block hash it signed at this height
        self._buffer: deque[tuple[bytes, bytes, bytes]] = deque(maxlen=MAX_BUFFERED)
        self.heard: dict[bytes, float] = {}  # key -> monotonic time we last heard it sign
        self.proposed_at: dict[bytes, float] = {}  # block hash -> perf_counter() built (bench)
        self.why_not: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe = node.events.subscribe(self._on_event)
        self._equivocate = bool(os.environ.get(EQUIVOCATE_ENV))

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="proposer")

    async def stop(self) -> None:
        self._unsubscribe()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                self.tick(time.monotonic())
            except Exception:  # a bug must not stop the validator: log and go on
                log.exception("proposer tick failed")
            await asyncio.sleep(TICK)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, TipChanged):
            self.tick(time.monotonic())
        elif isinstance(event, BlockConnected) and event.block.trailer:
            now = time.monotonic()
            for sig in parse_trailer(event.block.trailer):
                self.heard[sig.key] = max(self.heard.get(sig.key, 0.0), now - 0.001)

    # -- rounds -------------------------------------------------------------------------------

    def round_start(self, round_: int) -> float:
        """Monotonic time round `round_` of the current height starts."""
        return self._anchor + round_offset(round_, self.block_time, self.round_timeout)

    def _state(self) -> tuple[ValidatorSet, frozenset[bytes]]:
        chainstate = self.node.chainstate
        state = self.engine.state_after(chainstate, chainstate.tip)
        return state, self.engine.excluded(chainstate, state, self.height)

    def _new_height(self, now: float) -> None:
        self._evidence_from_final()
        self.round = 0
        self._anchor = now
        first = self.height == -1  # the first height since this process started
        stale = first or self.node.now() - self.node.tip.time > self.round_timeout + 1
        self.height = self.node.tip.height + 1
        self._listen_until = now + LISTEN if stale else 0.0
        self._last_proposal = 0.0
        self._proposals.clear()
        self._sigs.clear()
        self._seen.clear()

    def tick(self, now: float) -> None:
        """Advance the round by the clock, propose when in turn, finalize what has a quorum."""
        if self.node.tip.height + 1 != self.height:
            self._new_height(now)
        while now >= self.round_start(self.round + 1):
            self.round += 1
            self.round_timeouts += 1
        state, excluded = self._state()
        self.why_not = self._why_not(state, excluded)
        if self.why_not is not None:
            return
        if self._listen_until and now >= self._listen_until:
            self._listen_until = 0.0
            self._join_best(state, excluded)
        claim = self._claim(state, now)
        self.heard[self.key] = now
        locked = self.record.locked(self.height)
        if locked is not None and now - self._last_heartbeat >= HEARTBEAT:
            self._last_heartbeat = now
            network = self.node.network
            if network is not None and hasattr(network, "broadcast_signature"):
                network.broadcast_signature(locked.block_hash, self.key, locked.signature)
        due = now - self._last_proposal >= REPROPOSE_INTERVAL
        if (
            claim is not None
            and due
            and now >= max(self.round_start(self.round), self._listen_until)
        ):
            self._last_proposal = now
            self._propose(state, claim)
        self._finalize(state, excluded)

    def _claim(self, state: ValidatorSet, now: float) -> int | None:
        """The round we may propose in now: the current one when we are its proposer, or a
        later one when every proposer before us in line is offline (not heard for
        `offline_after` s; a key unheard since our start counts from the start)."""
        for round_ in range(self.round, self.round + len(state.validators)):
            proposer = proposer_for(state, self.height, round_)
            if proposer == self.key:
                return round_
            if now - self.heard.get(proposer, self._started) < self.offline_after:
                return None
        return None

    def _why_not(self, state: ValidatorSet, excluded: frozenset[bytes]) -> str | None:
        if self.key not in state:
            return "not a validator"
        if self.key in excluded and not self._equivocate:  # a liar (tests) goes on regardless
            return "equivocation found"
        locked = self.record.locked(self.height)
        if locked is not None and locked.block_hash not in self._proposals:
            self._adopt_locked(locked.block, locked.signature)
        return None

    # -- proposing ----------------------------------------------------------------------------

    def _adopt_locked(self, raw: bytes, signature: bytes) -> None:
        """After a restart: the block we signed at this height is our proposal again, with our
        recorded signature."""
        block = Block.parse(raw)
        if block.header.prev_block != self.node.tip.hash:
            return
        self._proposals[block.hash] = block.with_trailer(b"")
        self._add_sig(block.hash, self.key, signature)

    def _propose(self, state: ValidatorSet, round_: int) -> None:
        locked = self.record.locked(self.height)
        if locked is not None:
            block = self._proposals.get(locked.block_hash)
            if block is None:
                return
        else:
            block = self._build(round_)
            if len(self.proposed_at) >= 1_000:
                self.proposed_at.clear()
            self.proposed_at[block.hash] = time.perf_counter()
            log.info(
                "proposed block %s at height %d (round %d, %d txs)",
                block.header.hash_hex, self.height, round_, len(block.txs),
            )  # fmt: skip
            check_proposal(
                self.node, block.with_trailer(self._own_trailer(block)), self.height, state
            )
            self._proposals[block.hash] = block
            self._sign(block)
            if self._equivocate:
                self._send_second_block(round_)
        self._broadcast_proposal(block, split=False)

    def _build(self, round_: int, extra_nonce: int = 0) -> Block:
        from .miner import build_template  # imports node types: import at use

        reserve = trailer_size(len(self._state()[0].validators))
        template = build_template(self.node, self.key, extra_nonce, trailer_reserve=reserve)
        return replace(template, header=template.header.with_nonce(round_))

    def _own_trailer(self, block: Block) -> bytes:
        sig = schnorr_sign(self._secret, signing_hash(block.hash), os.urandom(32))
        return encode_trailer([Signature(self.key, sig)])

    def _send_second_block(self, round_: int) -> None:
        """Tests only (EQUIVOCATE_ENV): sign another block at this height, outside the record,
        and send it to one peer."""
        other = self._build(round_, extra_nonce=1)
        trailer = self._own_trailer(other)
        network = self.node.network
        if network is not None and hasattr(network, "broadcast_proposal"):
            network.broadcast_proposal(round_, other.with_trailer(trailer), True)

    def _broadcast_proposal(self, block: Block, split: bool) -> None:
        sigs = self._sigs.get(block.hash, {})
        if not sigs:
            return
        trailer = encode_trailer(Signature(k, s) for k, s in sigs.items())
        network = self.node.network
        if network is not None and hasattr(network, "broadcast_proposal"):
            network.broadcast_proposal(self.round, block.with_trailer(trailer), split)

    def _sign(self, block: Block) -> None:
        """Sign through the record (persisted first), then send the signature to all peers."""
        try:
            sig = self.record.sign(self.height, block.hash, block.serialize())
        except SignRefused as exc:
            self.why_not = f"signed another block at height {self.height} ({exc.reason})"
            return
        self._add_sig(block.hash, self.key, sig)
        network = self.node.network
        if network is not None and hasattr(network, "broadcast_signature"):
            network.broadcast_signature(block.hash, self.key, sig)
        crash_point("sign-after-send")

    # -- catching up on the open height (p2p/validators.py) -----------------------------------

    def standing_signature(self) -> tuple[bytes, bytes, bytes] | None:
        """(block hash, our key, signature) of the block we are locked on at the open height,
        None when we signed nothing there."""
        locked = self.record.locked(self.height)
        if locked is None or self.why_not is not None:
            return None
        return locked.block_hash, self.key, locked.signature

    def wants(self, block_hash: bytes, key: bytes, sig: bytes) -> bool:
        """Whether to ask for the proposal `block_hash` that validator `key` signed: we sign,
        have not seen it, have room, and `key` is a current validator. Raises
        `Rejected(CONSENSUS, 'bad-blk-sig')` when its signature does not verify (BIP-340, the
        one expensive check, so a forger pays with a ban)."""
        if self.why_not is not None or block_hash in self._proposals:
            return False
        state = self._state()[0]
        if len(self._proposals) >= 2 * len(state.validators) or key not in state:
            return False
        if not schnorr_verify(key, signing_hash(block_hash), sig):
            raise Rejected(Kind.CONSENSUS, "bad-blk-sig", "the signature does not verify")
        return True

    def proposal(self, block_hash: bytes) -> tuple[int, Block] | None:
        """(round, block with every signature we hold) of a proposal at the open height, for a
        validator that asks for it; None when we hold none."""
        block = self._proposals.get(block_hash)
        sigs = self._sigs.get(block_hash)
        if block is None or not sigs:
            return None
        trailer = encode_trailer(Signature(k, s) for k, s in sigs.items())
        return block.header.nonce, block.with_trailer(trailer)

    # -- inbound ------------------------------------------------------------------------------

    def on_proposal(self, round_: int, block: Block) -> None:
        """A proposal from a peer. Raises `Rejected(CONSENSUS)` when it is invalid (ban);
        one for another height is ignored."""
        self.tick(time.monotonic())
        if block.header.prev_block != self.node.tip.hash or self.why_not is not None:
            return
        state, excluded = self._state()
        sender = proposer_for(state, self.height, round_)
        sigs = parse_trailer(block.trailer)
        if block.hash not in self._proposals:
            if not self._room_for(block, state):
                return
            check_proposal(self.node, block, self.height, state, excluded)
            self._proposals[block.hash] = block.with_trailer(b"")
            # catch up to the round its proposer signed (the header's, not the message's,
            # which anyone relaying could inflate), at most N rounds at once
            self.round = max(
                self.round, min(block.header.nonce, self.round + len(state.validators))
            )
            message = signing_hash(block.hash)
            for key, block_hash, sig in list(self._buffer):  # verified now, never trusted
                if block_hash == block.hash and key in state and schnorr_verify(key, message, sig):
                    self._add_sig(block_hash, key, sig)
        else:
            known = self._sigs.get(block.hash, {})
            fresh = [s for s in sigs if s.key not in known]
            if len(valid_signers(block.hash, fresh)) != len(fresh) or any(
                s.key not in state for s in fresh
            ):
                raise Rejected(Kind.CONSENSUS, "bad-blk-sig", "a proposal signature is invalid")
        for sig in sigs:
            self._add_sig(block.hash, sig.key, sig.sig)
        if sender is not None and sender in self._sigs.get(block.hash, {}):
            self.heard[sender] = time.monotonic()  # the round's proposer sends its proposal
        unsigned = self.key not in self._sigs.get(block.hash, {})
        if unsigned and self.record.may_sign(self.height, block.hash) is None:
            listening = time.monotonic() < self._listen_until
            if not listening or self._counting(block.hash, state, excluded) + 1 >= state.threshold:
                self._sign(block.with_trailer(b""))
        self._finalize(state, excluded)

    def _counting(self, block_hash: bytes, state: ValidatorSet, excluded: frozenset[bytes]) -> int:
        return sum(1 for k in self._sigs.get(block_hash, {}) if k in state and k not in excluded)

    def _join_best(self, state: ValidatorSet, excluded: frozenset[bytes]) -> None:
        """The listening is over: sign the proposal heard with the most counting signatures
        (the earliest round on a tie), if we signed nothing at this height. While listening we
        sign only a proposal that our signature makes final: the first one heard may be a
        minority lock, and signing it would leave the height split for good."""
        if self.record.locked(self.height) is not None or not self._proposals:
            return
        best = max(
            self._proposals.values(),
            key=lambda b: (self._counting(b.hash, state, excluded), -b.header.nonce),
        )
        if self.record.may_sign(self.height, best.hash) is None:
            self._sign(best)

    def _room_for(self, block: Block, state: ValidatorSet) -> bool:
        """At most MAX_PROPOSALS_PER_KEY proposals of one proposer per height (a second one is
        already equivocation) and 2 x N in all: a validator cannot make us validate and keep
        proposals without end."""
        proposer = proposer_for(state, self.height, block.header.nonce)
        mine = sum(
            1
            for b in self._proposals.values()
            if proposer_for(state, self.height, b.header.nonce) == proposer
        )
        return mine < MAX_PROPOSALS_PER_KEY and len(self._proposals) < 2 * len(state.validators)

    def on_signature(self, block_hash: bytes, key: bytes, sig: bytes) -> None:
        """A validator's signature from a peer. Raises `Rejected(CONSENSUS, 'bad-blk-sig')`
        when it does not verify, 'bad-blk-signer' for a key outside the set."""
        if block_hash not in self._proposals:
            self._buffer.append((key, block_hash, sig))
            return
        state, excluded = self._state()
        if key not in state:
            raise Rejected(Kind.CONSENSUS, "bad-blk-signer", "the signer is not a validator")
        if self._sigs.get(block_hash, {}).get(key) == sig:
            self.heard[key] = time.monotonic()  # a heartbeat (signers send only their own)
            return
        if not schnorr_verify(key, signing_hash(block_hash), sig):
            raise Rejected(Kind.CONSENSUS, "bad-blk-sig", "the signature does not verify")
        self._add_sig(block_hash, key, sig)
        self.heard[key] = time.monotonic()
        self._finalize(state, excluded)

    def _add_sig(self, block_hash: bytes, key: bytes, sig: bytes) -> None:
        """Record a verified signature; a key seen on another block here is evidence."""
        self._sigs.setdefault(block_hash, {})[key] = sig
        other = self._seen.setdefault(key, block_hash)
        if other != block_hash and other in self._proposals and block_hash in self._proposals:
            self._submit_evidence(other, block_hash)

    def _submit_evidence(self, hash_a: bytes, hash_b: bytes) -> None:
        a, b = self._proposals[hash_a], self._proposals[hash_b]
        evidence = Evidence(
            a.header,
            tuple(Signature(k, s) for k, s in sorted(self._sigs[hash_a].items())),
            b.header,
            tuple(Signature(k, s) for k, s in sorted(self._sigs[hash_b].items())),
        )
        try:
            self.engine.submit_evidence(self.node.chainstate, evidence)
        except Rejected as exc:
            log.info("evidence not recorded: %r", exc)

    def _evidence_from_final(self) -> None:
        """Before leaving a height: a final block's signer seen on another proposal here."""
        tip = self.node.tip
        if tip.height != self.height or not self._proposals:
            return
        block = self.node.get_block(tip.hash)
        if block is None or not block.trailer:
            return
        self._proposals.setdefault(block.hash, block.with_trailer(b""))
        for sig in parse_trailer(block.trailer):
            self._add_sig(block.hash, sig.key, sig.sig)

    # -- finalizing ---------------------------------------------------------------------------

    def _finalize(self, state: ValidatorSet, excluded: frozenset[bytes]) -> None:
        for block_hash, sigs in list(self._sigs.items()):
            block = self._proposals.get(block_hash)
            if block is None:
                continue
            counting = {k: s for k, s in sigs.items() if k in state and k not in excluded}
            proposer = proposer_for(state, self.height, block.header.nonce)
            if len(counting) < state.threshold or proposer not in counting:
                continue
            final = block.with_trailer(encode_trailer(Signature(k, s) for k, s in counting.items()))
            try:
                if self.node.process_block(final):
                    log.info(
                        "final block %d %s (round %d, %d signatures)",
                        self.height - 1 if self.node.tip.hash == block_hash else self.height,
                        block.header.hash_hex,
                        block.header.nonce,
                        len(counting),
                    )
            except Rejected as exc:
                if exc.kind is not Kind.DUPLICATE:
                    log.warning("assembled block %s refused: %r", block.header.hash_hex, exc)
            return
