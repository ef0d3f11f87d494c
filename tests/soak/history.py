"""A Jepsen-style history of one soak run and the invariants checked against the final chain.

`History` records every transaction the test submits (`submitted`), every answer, and every
observation of a transaction's confirmations taken while the whole network agreed on the tip
(`observe_confirmations`). `check_final(nodes, params)` then fetches the active chain of
node 0 (all nodes must agree on the tip), replays it from genesis with
`powchain.consensus.block_verify.connect_block` over a dict view, and checks:

- every node has the same tip;
- nothing was created or destroyed: the sum of all balances (spendable + immature) equals the
  genesis allocations + the coinbases - the fees paid, and never exceeds allocations + subsidies;
- no sender nonce appears twice on the active chain (and each sender's nonces are 0..n-1);
- every transaction once seen with >= 6 confirmations is still on the active chain;
- every account's balance, immature credit and nonce, as each node reports it, equals the replay.

It returns a dict of figures; AssertionError names the first invariant that failed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from powchain.consensus.block_verify import connect_block
from powchain.consensus.state import EMPTY_ACCOUNT, AccountState
from powchain.consensus.subsidy import block_subsidy
from powchain.core import keys
from powchain.core.block import Block
from powchain.core.params import ChainParams
from tests.functional.framework import ApiError, NodeProcess

__all__ = ["History", "DictView", "fetch_chain", "replay"]

CONFIRMED_DEPTH = 6


class DictView:
    """A StateView over plain dicts (the replay's state)."""

    def __init__(self) -> None:
        self.accounts: dict[bytes, AccountState] = {}
        self.coinbases: dict[int, tuple[bytes, int]] = {}

    def get_account(self, pubkey: bytes) -> AccountState:
        return self.accounts.get(pubkey, EMPTY_ACCOUNT)

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        return self.coinbases.get(height)


def fetch_chain(node: NodeProcess) -> list[Block]:
    """The active chain of `node`, genesis first, through the REST API."""
    height = node.height
    blocks = []
    for h in range(height + 1):
        block_hash = node.block(h)["hash"]
        blocks.append(Block.parse(node.block_raw(block_hash)))
    return blocks


def replay(blocks: Sequence[Block], params: ChainParams) -> tuple[DictView, int, int]:
    """Connect every block from genesis on a DictView; (view, coinbase total, fee total)."""
    view = DictView()
    minted = fees_total = 0
    for height, block in enumerate(blocks):
        overlay, fees = connect_block(block, height, view, params)
        view.accounts.update(overlay.changes())
        if height > 0:
            view.coinbases[height] = (block.txs[0].recipient, block.txs[0].amount)
            minted += block.txs[0].amount
            fees_total += fees
    return view, minted, fees_total


@dataclass
class History:
    """What a test did and saw (see the module docstring)."""

    submitted: list[dict[str, Any]] = field(default_factory=list)
    deep: dict[str, int] = field(default_factory=dict)  # txid -> most confirmations seen

    def submit(self, node: NodeProcess, raw_hex: str, sender: bytes, nonce: int) -> str | None:
        """POST the transaction, record it and the answer; the txid or None when refused."""
        entry: dict[str, Any] = {"node": node.name, "sender": sender, "nonce": nonce}
        try:
            entry["txid"] = node.submit(raw_hex)
            entry["answer"] = "accepted"
        except ApiError as exc:
            entry["answer"] = exc.error or str(exc.status)
        except Exception as exc:  # noqa: BLE001 - an unreachable node is an answer too
            entry["answer"] = f"error: {type(exc).__name__}"
        self.submitted.append(entry)
        return entry.get("txid")

    def observe_confirmations(self, node: NodeProcess) -> None:
        """Record the confirmations `node` reports for every accepted transaction."""
        for entry in self.submitted:
            txid = entry.get("txid")
            if txid is None:
                continue
            try:
                info = node.tx(txid)
            except ApiError:
                continue
            confs = int(info.get("confirmations") or 0)
            self.deep[txid] = max(self.deep.get(txid, 0), confs)

    def check_final(self, nodes: Sequence[NodeProcess], params: ChainParams) -> dict[str, Any]:
        tips = {n.name: n.tip for n in nodes}
        assert len(set(tips.values())) == 1, f"nodes disagree on the tip: {tips}"
        blocks = fetch_chain(nodes[0])
        view, minted, fees = replay(blocks, params)
        allocated = sum(amount for _key, amount in params.genesis_allocations)
        total = sum(a.balance + a.immature for a in view.accounts.values())
        assert total == allocated + minted - fees, "supply: coins created or destroyed"
        subsidies = sum(block_subsidy(h, params) for h in range(1, len(blocks)))
        assert minted - fees <= subsidies, "coinbases claimed more than the subsidies"
        nonces: dict[bytes, list[int]] = defaultdict(list)
        on_chain: set[bytes] = set()
        for block in blocks[1:]:
            for tx in block.txs[1:]:
                nonces[tx.sender].append(tx.nonce)
                on_chain.add(tx.txid)
        for sender, used in nonces.items():
            assert sorted(used) == list(range(len(used))), f"nonces of {sender.hex()}: {used}"
        lost = [
            t
            for t, c in self.deep.items()
            if c >= CONFIRMED_DEPTH and bytes.fromhex(t)[::-1] not in on_chain
        ]
        assert not lost, f"transactions seen with >= 6 confirmations are gone: {lost}"
        for node in nodes:
            for key, acc in view.accounts.items():
                got = node.account(keys.encode_address(params.hrp, key))
                want = (acc.balance, acc.immature, acc.nonce)
                have = (int(got["balance"]), int(got["immature"]), int(got["nonce"]))
                assert have == want, f"{node.name}: account {key.hex()} {have} != replay {want}"
        return {
            "height": len(blocks) - 1,
            "txs_on_chain": len(on_chain),
            "submitted": len(self.submitted),
            "accepted": sum(1 for e in self.submitted if e["answer"] == "accepted"),
            "deep_confirmed": sum(1 for c in self.deep.values() if c >= CONFIRMED_DEPTH),
            "supply": total,
            "subsidies": subsidies + allocated,
        }
