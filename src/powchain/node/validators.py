"""The node's half of the `validators` engine (issue 14): the validator set along the chain,
the signature check in context, finality, and equivocation evidence.

- `state_after(chainstate, entry)`: the `ValidatorSet` after a block (genesis set, then each
  block's votes), memoized and kept in `val_states` (derivable: a missing row is recomputed).
- `check_block_context`: a block must extend the tip (every block is final: nothing below the
  tip can be replaced) and carry T counting signatures (`signatures.check_signed_block`) under
  the parent's set, equivocators excluded. A validly signed block at a height the active chain
  already has is evidence: stored, published (`EvidenceFound`, relayed by p2p) and refused
  (POLICY `conflicts-final`); the node never switches to it.
- `submit_evidence`: evidence from a peer, checked against the set at its parent.
- Evidence excludes the convicted keys' signatures until the set changes (its epoch grows).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..consensus.errors import Kind, Rejected
from ..consensus.signatures import (
    Evidence,
    check_evidence,
    check_signed_block,
    encode_trailer,
    parse_trailer,
)
from ..consensus.valset import ValidatorSet, apply_block_votes, genesis_set
from ..core.block import Block, BlockHeader
from ..core.keys import encode_address
from ..core.params import ChainParams
from ..storage import validators as vstore
from .engines import Producer

if TYPE_CHECKING:
    from .chainstate import ChainState, IndexEntry
    from .node import Node

__all__ = ["ValidatorNodeEngine", "EvidenceFound", "MEMO_STATES"]

log = logging.getLogger(__name__)

MEMO_STATES = 1_024
"""Validator states kept in memory (older ones are read back from `val_states`)."""
SCAN_BLOCKS = 200
"""Blocks read back at start for each validator's last signed height (then kept by events)."""
MAX_HEADERS_AHEAD = 4_000
"""Bare headers (no body yet) are indexed at most this many heights above the tip."""
MAX_UNCONNECTED = 10_000
"""Index entries outside the active chain at most: a header costs nothing to forge here."""


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """New equivocation evidence (relayed by p2p): `convicted` keys signed both blocks."""

    evidence: Evidence
    height: int
    convicted: frozenset[bytes]


class ValidatorNodeEngine:
    """Node-side rules of a validator network (see the module docstring)."""

    def __init__(self, params: ChainParams) -> None:
        self.params = params
        self.genesis = genesis_set(params.validators, params.validator_threshold)
        self._memo: dict[bytes, ValidatorSet] = {}
        self._tables_ready = False
        self._excluded: list[vstore.EvidenceRow] | None = None
        self.node: Node | None = None
        self.last_signed: dict[bytes, int] = {}  # key -> highest final block it signed

    # -- the validator set along the chain ----------------------------------------------------

    def _ready(self, chainstate: ChainState) -> None:
        if not self._tables_ready:
            chainstate.db.executescript(vstore.SCHEMA)
            self._tables_ready = True

    def state_after(self, chainstate: ChainState, entry: IndexEntry) -> ValidatorSet:
        """The validator set after `entry`'s block (its body must be stored)."""
        self._ready(chainstate)
        pending: list[IndexEntry] = []
        walk: IndexEntry | None = entry
        state: ValidatorSet | None = None
        while walk is not None:
            state = self._known(chainstate, walk)
            if state is not None:
                break
            pending.append(walk)
            walk = walk.prev
        if state is None:
            raise RuntimeError("no validator state below the block (corrupt index)")
        for item in reversed(pending):
            block = chainstate.read_block(item.hash)
            if block is None:
                raise RuntimeError(f"block {item.header.hash_hex} has no body for its votes")
            state = apply_block_votes(state, block.txs)
            self._remember(item.hash, state)
            vstore.put_state(chainstate.db, item.hash, state.serialize())
        return state

    def _known(self, chainstate: ChainState, entry: IndexEntry) -> ValidatorSet | None:
        if entry.prev is None:
            return self.genesis
        state = self._memo.get(entry.hash)
        if state is None:
            raw = vstore.get_state(chainstate.db, entry.hash)
            if raw is not None:
                state = ValidatorSet.parse(raw)
                self._remember(entry.hash, state)
        return state

    def _remember(self, block_hash: bytes, state: ValidatorSet) -> None:
        if len(self._memo) >= MEMO_STATES:
            self._memo.pop(next(iter(self._memo)))
        self._memo[block_hash] = state

    def excluded(
        self, chainstate: ChainState, state: ValidatorSet, height: int
    ) -> frozenset[bytes]:
        """Keys whose signatures do not count at `height` under `state`: convicted by evidence
        found below `height` while the set was at `state.epoch` (node-local; the height of the
        evidence itself may still finalize, so validators locked there are not stuck)."""
        self._ready(chainstate)
        if self._excluded is None:
            self._excluded = vstore.evidence(chainstate.db, limit=10_000)
        keys: set[bytes] = set()
        for row in self._excluded:
            if row.epoch == state.epoch and row.height < height:
                keys.update(row.convicted)
        return frozenset(keys)

    def evidence(self, chainstate: ChainState) -> list[vstore.EvidenceRow]:
        """Stored evidence, newest first."""
        self._ready(chainstate)
        return vstore.evidence(chainstate.db)

    # -- the engine's answers ---------------------------------------------------------------

    def check_block_context(self, chainstate: ChainState, entry: IndexEntry, block: Block) -> None:
        """Refuse a block unless it extends the tip with T counting signatures.

        Raises `Rejected`: the CONSENSUS reasons of `check_signed_block`; POLICY
        `equivocator-counted` for a block final only if a validator our evidence convicts
        counts; POLICY `conflicts-final` for a validly signed block where the active chain
        has another one (evidence is stored); MISSING_PARENT `prev-blk-not-connected` when the
        parent is not the tip (the body is asked again once it is)."""
        parent = entry.prev
        if parent is None:
            raise Rejected(Kind.CONSENSUS, "bad-genesis", "a second genesis block")
        signatures = parse_trailer(block.trailer)
        if parent is chainstate.tip:
            state = self.state_after(chainstate, parent)
            excluded = self.excluded(chainstate, state, entry.height)
            try:
                check_signed_block(block.header, signatures, entry.height, state, excluded)
            except Rejected as exc:
                if not excluded or exc.reason not in ("bad-blk-quorum", "bad-proposer"):
                    raise
                # valid but for our (node-local) evidence: refuse, without banning the relayer
                check_signed_block(block.header, signatures, entry.height, state)
                raise Rejected(
                    Kind.POLICY, "equivocator-counted", "it needs a convicted validator"
                ) from exc
            return
        ours = chainstate.at_height(entry.height)
        if ours is not None and chainstate.in_active_chain(parent):
            state = self.state_after(chainstate, parent)
            check_signed_block(block.header, signatures, entry.height, state)
            our_block = chainstate.read_block(ours.hash)
            if our_block is not None and our_block.trailer:
                evidence = Evidence(
                    ours.header, parse_trailer(our_block.trailer), block.header, signatures
                )
                self._record(chainstate, evidence, entry.height, state)
            raise Rejected(
                Kind.POLICY,
                "conflicts-final",
                f"height {entry.height} is final with block {ours.header.hash_hex}",
            )
        raise Rejected(
            Kind.MISSING_PARENT, "prev-blk-not-connected", "the parent is not our tip yet"
        )

    def check_header(self, chainstate: ChainState, header: BlockHeader) -> None:
        """Bounds on bare headers, which carry no signatures: refuse (POLICY, no ban) one on a
        parent below our tip (`conflicts-final`), more than MAX_HEADERS_AHEAD above the tip
        (`header-too-far-ahead`; asked again as the tip moves) or past MAX_UNCONNECTED index
        entries off the active chain (`too-many-headers`)."""
        if chainstate.get(header.hash) is not None:
            return
        parent = chainstate.get(header.prev_block)
        if parent is None:
            return  # accept_header answers MISSING_PARENT
        tip = chainstate.tip
        if parent is not tip and chainstate.in_active_chain(parent):
            raise Rejected(Kind.POLICY, "conflicts-final", "the header forks below a final block")
        if parent.height + 1 > tip.height + MAX_HEADERS_AHEAD:
            raise Rejected(Kind.POLICY, "header-too-far-ahead", "sync the blocks below it first")
        if len(chainstate.entries) - len(chainstate.chain) >= MAX_UNCONNECTED:
            raise Rejected(Kind.POLICY, "too-many-headers", "too many headers without blocks")

    def submit_evidence(self, chainstate: ChainState, evidence: Evidence) -> bool:
        """Check and store evidence from a peer; True when new. Raises `Rejected(CONSENSUS,
        'bad-evidence')` when it convicts nobody; MISSING_PARENT when its parent is not in
        our active chain (nothing to judge it against)."""
        parent = chainstate.get(evidence.header_a.prev_block)
        if parent is None or not chainstate.in_active_chain(parent):
            raise Rejected(Kind.MISSING_PARENT, "evidence-parent-unknown", "not on our chain")
        state = self.state_after(chainstate, parent)
        return self._record(chainstate, evidence, parent.height + 1, state)

    def _record(
        self, chainstate: ChainState, evidence: Evidence, height: int, state: ValidatorSet
    ) -> bool:
        convicted = check_evidence(evidence, state)
        row = vstore.EvidenceRow(
            height,
            evidence.header_a.serialize(),
            encode_trailer(evidence.signatures_a),
            evidence.header_b.serialize(),
            encode_trailer(evidence.signatures_b),
            tuple(sorted(convicted)),
            state.epoch,
            self.node.now() if self.node is not None else 0,
        )
        new = vstore.add_evidence(
            chainstate.db, evidence.header_a.hash, evidence.header_b.hash, row
        )
        self._excluded = None
        if new:
            names = ", ".join(encode_address(self.params.hrp, k) for k in sorted(convicted))
            log.warning("equivocation at height %d: %s signed two blocks", height, names)
            if self.node is not None:
                self.node.events.publish(EvidenceFound(evidence, height, convicted))
        return new

    async def start_producer(self, node: Node) -> Producer | None:
        """The proposer when the node was started with `--validator-key`."""
        self.node = node
        self._ready(node.chainstate)
        self._backfill_signers(node)
        node.events.subscribe(self._on_event)
        secret = getattr(node.config, "validator_secret", None)
        if node.config.mine:
            raise ValueError("a validator network has no mining: use --validator-key")
        if secret is None:
            return None
        from .proposer import Proposer

        proposer = Proposer(node, self, secret)
        await proposer.start()
        return proposer

    def _backfill_signers(self, node: Node) -> None:
        """`last_signed` from the last SCAN_BLOCKS blocks (once, at start)."""
        entry = node.tip
        for _ in range(SCAN_BLOCKS):
            if entry.prev is None:
                break
            block = node.get_block(entry.hash)
            if block is not None and block.trailer:
                for sig in parse_trailer(block.trailer):
                    self.last_signed.setdefault(sig.key, entry.height)
            entry = entry.prev

    def _on_event(self, event: object) -> None:
        from .events import BlockConnected

        if isinstance(event, BlockConnected) and event.block.trailer:
            for sig in parse_trailer(event.block.trailer):
                self.last_signed[sig.key] = max(self.last_signed.get(sig.key, 0), event.height)

    def validators_report(self, node: Node) -> dict[str, Any] | None:
        """The body of `GET /api/v1/validators` (node/valstatus.py)."""
        from .valstatus import validators_report

        return validators_report(node, self)

    def status(self, node: Node) -> dict[str, Any]:
        """`validators`: count, threshold, and this node's validator line."""
        from .valstatus import status_line

        return {"validators": status_line(node, self)}
