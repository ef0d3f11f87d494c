"""What a validator network's node shows about its validators (issue 14): `GET
/api/v1/validators`, the `validators` line of `GET /api/v1/status` and `powchain status`.

Each validator: `address`, `online` (heard within ONLINE_WINDOW s: its own signature or
heartbeat, or its proposal in its round),
`last_signed_height` (highest final block carrying its signature: the last 200 at start,
then every block connected),
`in_turn` (proposer for the next height at this node's round), `local` (the key of this node),
`signing` and `why_not_signing` when it is not: `key not loaded` (this node has no key),
`equivocation found`, `behind` (this node is syncing), `no quorum` (fewer than T validators
online), `offline`, `signed another block at height H (locked)`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..consensus.valset import proposer_for
from ..core.keys import encode_address
from ..storage.validators import EvidenceRow

if TYPE_CHECKING:
    from .node import Node
    from .validators import ValidatorNodeEngine

__all__ = ["validators_report", "status_line", "evidence_json"]

ONLINE_WINDOW = 10.0


def validators_report(node: Node, engine: ValidatorNodeEngine) -> dict[str, Any]:
    """The body of `GET /api/v1/validators` (see the module docstring)."""
    chainstate = node.chainstate
    state = engine.state_after(chainstate, chainstate.tip)
    height = chainstate.tip.height + 1
    excluded = engine.excluded(chainstate, state, height)
    proposer = node.producer if hasattr(node.producer, "record") else None
    round_ = getattr(proposer, "round", 0)
    heard: dict[bytes, float] = getattr(proposer, "heard", {})
    now = time.monotonic()
    last = engine.last_signed
    online = {k for k in state.validators if now - heard.get(k, -1e9) <= ONLINE_WINDOW}
    if proposer is None:  # without a key this node hears signatures only in final blocks
        online = {k for k, h in last.items() if h >= chainstate.tip.height - 2}
    in_turn = proposer_for(state, height, round_)
    rows = []
    for key in state.validators:
        local = proposer is not None and key == proposer.key
        why = _why_not(node, key, local, proposer, online, excluded, state.threshold)
        rows.append(
            {
                "address": encode_address(node.params.hrp, key),
                "online": key in online,
                "last_signed_height": last.get(key),
                "in_turn": key == in_turn,
                "local": local,
                "signing": why is None,
                "why_not_signing": why,
            }
        )
    return {
        "height": height,
        "round": round_,
        "round_timeouts": getattr(proposer, "round_timeouts", 0),
        "threshold": state.threshold,
        "count": len(state.validators),
        "epoch": state.epoch,
        "local": None if proposer is None else encode_address(node.params.hrp, proposer.key),
        "validators": rows,
        "pending_votes": [
            {
                "voter": encode_address(node.params.hrp, v.voter),
                "subject": encode_address(node.params.hrp, v.subject),
                "add": v.add,
            }
            for v in state.votes
        ],
        "evidence": [evidence_json(node, row) for row in engine.evidence(chainstate)],
    }


def _why_not(
    node: Node,
    key: bytes,
    local: bool,
    proposer: Any,
    online: set[bytes],
    excluded: frozenset[bytes],
    threshold: int,
) -> str | None:
    if key in excluded:
        return "equivocation found"
    if local:
        why: str | None = proposer.why_not
        if why is None and len(online | {key}) < threshold:
            return "no quorum"
        if why is None and not node.is_synced():
            return "behind"  # headers above our tip: signing on, for a height others passed
        return why
    if key not in online:
        return "offline" if proposer is not None else "key not loaded here; no recent signature"
    if len(online) < threshold:
        return "no quorum"
    return None


def evidence_json(node: Node, row: EvidenceRow) -> dict[str, Any]:
    """One stored evidence for people."""
    from ..core.block import BlockHeader

    return {
        "height": row.height,
        "block_a": BlockHeader.parse(row.header_a).hash_hex,
        "block_b": BlockHeader.parse(row.header_b).hash_hex,
        "convicted": [encode_address(node.params.hrp, k) for k in row.convicted],
        "epoch": row.epoch,
        "found_at": row.found_at,
    }


def _local_why(report: dict[str, Any], local: dict[str, Any] | None) -> str | None:
    if local is not None:
        why: str | None = local["why_not_signing"]
        return why
    if report["local"] is not None:
        return "not a validator (current validators can vote it in)"
    return "key not loaded (no --validator-key)"


def status_line(node: Node, engine: ValidatorNodeEngine) -> dict[str, Any]:
    """Short form for `GET /api/v1/status`: count, threshold, online, this node's key."""
    report = validators_report(node, engine)
    local = next((v for v in report["validators"] if v["local"]), None)
    return {
        "count": report["count"],
        "threshold": report["threshold"],
        "online": sum(1 for v in report["validators"] if v["online"]),
        "round": report["round"],
        "local": report["local"],
        "signing": bool(local and local["signing"]),
        "why_not_signing": _local_why(report, local),
        "evidence": len(report["evidence"]),
    }
