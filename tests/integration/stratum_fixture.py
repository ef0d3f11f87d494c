"""A real regtest-like Node with its Stratum server on 127.0.0.1, on an asyncio loop in a
background thread, so the blocking independent client (tests/stratum_client.py) can talk to
it from the test thread. `SHARE_NET` blocks need difficulty 1e-4 (share units): shares at the
floor 1e-6 are mostly not blocks, and a block takes the Python client about 430,000 hashes."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from powchain.config import mine_genesis
from powchain.consensus.pow import target_to_bits
from powchain.core.keys import encode_address
from powchain.core.params import REGTEST, ChainParams
from powchain.node.node import Node, NodeConfig
from powchain.stratum.server import StratumServer, StratumSettings

T = TypeVar("T")
NETWORK_DIFFICULTY = 1e-4
FLOOR = 1e-6


@lru_cache(maxsize=1)
def share_net() -> ChainParams:
    bits = target_to_bits(int(0xFFFF * 2**208 / NETWORK_DIFFICULTY))
    params = dataclasses.replace(
        REGTEST, genesis_bits=bits, pow_limit_bits=bits, genesis_hash_hex=""
    )
    return mine_genesis(params)


class Served:
    """The node, its server and the loop thread; `run(coro)` / `call(fn)` on the loop."""

    def __init__(self, node: Node, server: StratumServer, loop: asyncio.AbstractEventLoop):
        self.node, self.server, self.loop = node, server, loop

    @property
    def port(self) -> int:
        return self.server.port

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 120) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def address(self, pub: bytes) -> str:
        return encode_address(self.node.params.hrp, pub)


@contextmanager
def served(tmp_path: Path, params: ChainParams | None = None, **settings: Any) -> Iterator[Served]:
    """A started node + Stratum server (port 0) with `settings` over the test defaults."""
    options: dict[str, Any] = {"port": 0, "min_difficulty": FLOOR, "share_interval": 0.001}
    options.update(settings)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    config = NodeConfig(
        params=params or share_net(), datadir=tmp_path, listen=False, verify_processes=0
    )
    node = Node(config)
    server = StratumServer(node, StratumSettings(**options))

    async def start() -> None:
        await node.start()
        await server.start()

    async def stop() -> None:
        await server.stop()
        await node.stop()

    asyncio.run_coroutine_threadsafe(start(), loop).result(60)
    try:
        yield Served(node, server, loop)
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
