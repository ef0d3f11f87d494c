"""The full check of a validator-network proposal before anyone signs it (issue 14).

`check_proposal(node, block, height, state, excluded)` runs everything a final block must
satisfy except the quorum, on the node's tip, cheap checks first: the block's context-free
rules and header context, room for every validator's signature, the signers' membership and
the round's proposer among them, then the BIP-340 signatures, then the state transition
(`connect_block` on the node's UTXO view, which writes nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..consensus.block_check import check_block
from ..consensus.block_verify import check_header_context, connect_block
from ..consensus.errors import Kind, Rejected
from ..consensus.signatures import parse_trailer, trailer_size, valid_signers
from ..consensus.valset import ValidatorSet, proposer_for
from ..core.block import Block
from ..storage.state import SqliteStateView

if TYPE_CHECKING:
    from .node import Node

__all__ = ["check_proposal"]


def check_proposal(
    node: Node,
    block: Block,
    height: int,
    state: ValidatorSet,
    excluded: frozenset[bytes] = frozenset(),
) -> frozenset[bytes]:
    """The valid signers of `block`, a proposal for `height` on `node`'s tip.

    Raises `Rejected`: CONSENSUS for what no honest proposer sends (`bad-blk-length`,
    `bad-blk-signer`, `bad-proposer`, `bad-blk-sig`, and every block and header rule), POLICY
    `proposer-excluded` for a proposal of a convicted equivocator (never signed).
    """
    chainstate = node.chainstate
    tip = chainstate.tip
    params = node.params
    check_block(block, params)
    check_header_context(
        block.header,
        chainstate.next_bits(tip),
        chainstate.median_time_past(tip),
        node.now(),
        params,
    )
    body = len(block.serialize()) - len(block.trailer)
    if body + trailer_size(len(state.validators)) > params.max_block_size:
        raise Rejected(Kind.CONSENSUS, "bad-blk-length", "no room left for every signature")
    sigs = parse_trailer(block.trailer)
    if any(s.key not in state for s in sigs):
        raise Rejected(Kind.CONSENSUS, "bad-blk-signer", "a proposal signer is no validator")
    proposer = proposer_for(state, height, block.header.nonce)
    if all(s.key != proposer for s in sigs):
        raise Rejected(Kind.CONSENSUS, "bad-proposer", "the round's proposer did not sign")
    if proposer in excluded:
        raise Rejected(Kind.POLICY, "proposer-excluded", "the proposer equivocated")
    signers = valid_signers(block.hash, sigs)
    if len(signers) != len(sigs):
        raise Rejected(Kind.CONSENSUS, "bad-blk-sig", "a proposal signature does not verify")
    connect_block(block, height, SqliteStateView(node.db), params)
    return signers
