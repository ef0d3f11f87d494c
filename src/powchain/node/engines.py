"""The node's half of each consensus engine (issue 14): the checks that need the node's state,
and how blocks are produced. The pure half lives in `consensus/engine.py`.

`node_engine_for(params)` returns a `NodeEngine` for `params.consensus`:

- `check_block_context(chainstate, entry, block)`: run by `validation.accept_block` after the
  header is indexed and before the body is stored; raises `Rejected` (nothing is stored and the
  header is not marked invalid, since a trailer is outside the hash and a peer can swap it).
- `check_header(chainstate, header)`: run by `validation.index_headers` before a bare header
  (headers-first sync, no body) is indexed; raises `Rejected` to refuse it.
- `async start_producer(node)`: start what makes blocks (the miner when `--mine`, the proposer
  when `--validator-key`), or nothing; returns an object with `async stop()` or None.
- `status(node)`: extra fields of `GET /api/v1/status` (`{}` under proof of work).
- `validators_report(node)`: the body of `GET /api/v1/validators`, None without validators.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..core.block import Block, BlockHeader
from ..core.params import ChainParams

if TYPE_CHECKING:
    from .chainstate import ChainState, IndexEntry
    from .node import Node

__all__ = ["NodeEngine", "Producer", "PowNodeEngine", "node_engine_for", "NODE_ENGINES"]


class Producer(Protocol):
    """A running block producer (Miner, Proposer)."""

    async def stop(self) -> None: ...


class NodeEngine(Protocol):
    """The node-side answers of one engine (see the module docstring)."""

    def check_block_context(
        self, chainstate: ChainState, entry: IndexEntry, block: Block
    ) -> None: ...

    def check_header(self, chainstate: ChainState, header: BlockHeader) -> None: ...

    async def start_producer(self, node: Node) -> Producer | None: ...

    def status(self, node: Node) -> dict[str, Any]: ...

    def validators_report(self, node: Node) -> dict[str, Any] | None: ...


class PowNodeEngine:
    """Proof of work: every rule is in the header and the state transition; the miner mines."""

    def __init__(self, params: ChainParams) -> None:
        self.params = params

    def check_block_context(self, chainstate: ChainState, entry: IndexEntry, block: Block) -> None:
        """Nothing beyond the header context and the connect."""

    def check_header(self, chainstate: ChainState, header: BlockHeader) -> None:
        """Nothing: a header's proof of work is its cost (presync bounds low-work ones)."""

    async def start_producer(self, node: Node) -> Producer | None:
        """The multi-process miner when the node was started with `--mine`."""
        if not node.config.mine:
            return None
        from .miner import Miner  # miner imports node types; import at use

        if node.config.miner_address is None:
            raise ValueError("mining needs a miner address")
        miner = Miner(node, node.config.miner_address, node.config.mining_processes)
        await miner.start()
        node.miner = miner
        return miner

    def status(self, node: Node) -> dict[str, Any]:
        return {}

    def validators_report(self, node: Node) -> dict[str, Any] | None:
        """None: proof of work has no validators."""
        return None


def _validators(params: ChainParams) -> NodeEngine:
    from .validators import ValidatorNodeEngine  # imports engines: import at use

    return ValidatorNodeEngine(params)


NODE_ENGINES: dict[str, Any] = {"pow": PowNodeEngine, "validators": _validators}
"""`ChainParams.consensus` -> node engine factory (params -> engine)."""


def node_engine_for(params: ChainParams) -> NodeEngine:
    """A new node engine for `params.consensus`; ValueError for an unknown name."""
    try:
        cls = NODE_ENGINES[params.consensus]
    except KeyError:
        raise ValueError(f"unknown consensus engine {params.consensus!r}") from None
    engine: NodeEngine = cls(params)
    return engine
