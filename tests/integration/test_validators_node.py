"""Validator networks in one process (issue 14): real Nodes on SQLite, loopback delivery."""

from __future__ import annotations

import asyncio
from pathlib import Path

from powchain.consensus.signatures import parse_trailer

from .valnet import KEYS, ValNet, validator_params, wait_until


def test_four_validators_finalize_blocks_and_agree(tmp_path: Path) -> None:
    async def run() -> None:
        net = ValNet(tmp_path, validator_params(4), 4)
        await net.start_all()
        try:
            await wait_until(lambda: min(net.heights()) >= 6)
            hashes = {n.block_hash_at(5) for n in net.nodes}
            assert len(hashes) == 1
            block = net.nodes[0].get_block(hashes.pop())  # type: ignore[arg-type]
            assert block is not None
            signers = {s.key for s in parse_trailer(block.trailer)}
            assert len(signers) >= 3 and signers <= set(KEYS[:4])
            assert not net.refused, net.refused
        finally:
            await net.stop_all()

    asyncio.run(run())
