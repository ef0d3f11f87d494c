"""Soak harness: a cluster of real `powchain node` processes on cuttable links.

`Cluster(tmp_path, n, network)` starts n nodes (each dials every other through
`links.dial_address`), and offers `partition(groups)`, `heal()`, `kill9(i)`, `restart(i)`,
`wait_same_tip()` (returns the seconds it took). Nodes are `SoakNode`s: the functional
framework's `NodeProcess` with a namespace command prefix, bind addresses and extra
environment (e.g. `POWCHAIN_CRASH_AT`); `make_node(i, datadir)` builds another kind of
`SoakNode` (a validator's: tests/soak/test_validator_partition.py). Steps are logged as
sentences; no bare sleeps in tests.
"""

from __future__ import annotations

import itertools
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.functional.framework import NodeProcess, wait_until

from .links import NamespaceLinks, ProxyLinks, make_links

log = logging.getLogger("soak")

__all__ = ["SoakNode", "Cluster"]


@dataclass
class SoakNode(NodeProcess):
    """A NodeProcess in a namespace (or not), with extra environment for the process."""

    api_host: str = "127.0.0.1"
    p2p_bind: str = "127.0.0.1"
    prefix: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"

    def command_prefix(self) -> list[str]:
        return list(self.prefix)

    def process_env(self) -> dict[str, str]:
        return dict(self.env)

    def p2p_listen(self) -> str:
        return f"{self.p2p_bind}:{self.p2p_port}"

    def api_listen(self) -> str:
        return f"{self.api_host}:{self.api_port}"

    def wait_exit(self, timeout: float = 60) -> int:
        """Wait for the process to end by itself (a crash point); its exit code."""
        assert self.process is not None
        code = self.process.wait(timeout)
        self._signal(self.process, signal.SIGKILL, group=True)  # orphaned mining workers
        self._reset()
        return code


class Cluster:
    """n nodes, every pair linked; see the module docstring. Use as a context manager."""

    def __init__(
        self,
        tmp_path: Path,
        n: int,
        network: str = "regtest",
        *,
        mine: bool = False,
        extra_args: dict[int, list[str]] | None = None,
        links: NamespaceLinks | ProxyLinks | None = None,
        make_node: Callable[[int, Path], SoakNode] | None = None,
    ) -> None:
        self.links, self.note = (links, "links: given") if links else make_links()
        log.info(self.note)
        self.links.setup(n)
        self.nodes: list[SoakNode] = []
        for i in range(n):
            if make_node is None:
                node = SoakNode(i, tmp_path / f"node{i}", network, [], mine, [])
            else:  # another kind of node (a validator of a network file)
                node = make_node(i, tmp_path / f"node{i}")
            node.api_host = self.links.api_host(i)
            node.p2p_bind = self.links.p2p_bind(i)
            node.prefix = self.links.command_prefix(i)
            node.extra_args = ["--ping-interval", "5", "--idle-timeout", "20"]
            node.extra_args += (extra_args or {}).get(i, [])
            self.nodes.append(node)
        for i, node in enumerate(self.nodes):
            node.connect = [
                self.links.dial_address(i, j, lambda k: self.nodes[k].p2p_port)
                for j in range(n)
                if j != i
            ]
        self.cut_links: set[tuple[int, int]] = set()

    def __enter__(self) -> Cluster:
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_for_ready()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        for node in self.nodes:
            try:
                node.stop()
            except Exception as exc:  # noqa: BLE001 - teardown must reach every node
                log.error("stopping %s failed: %r", node.name, exc)
                node.kill9()
        self.links.close()

    # -- faults ------------------------------------------------------------------------

    def partition(self, *groups: set[int]) -> None:
        """Cut every link between different groups (nodes in no group are isolated)."""
        side = {i: g for g, members in enumerate(groups) for i in members}
        for i, j in itertools.combinations(range(len(self.nodes)), 2):
            if side.get(i, -1 - i) != side.get(j, -1 - j) and (i, j) not in self.cut_links:
                self.links.cut(i, j)
                self.cut_links.add((i, j))
        log.info("Partition the network into %s", [sorted(g) for g in groups])

    def heal(self) -> None:
        for i, j in sorted(self.cut_links):
            self.links.restore(i, j)
        self.cut_links.clear()
        log.info("Heal every link")

    def tips(self) -> list[str]:
        return [n.tip for n in self.nodes]

    def wait_same_tip(self, timeout: float = 120) -> float:
        """Seconds until every node reports the same tip (WaitTimeout after `timeout`)."""
        start = time.monotonic()
        wait_until(lambda: len(set(self.tips())) == 1, timeout, 0.1, "the same tip everywhere")
        return time.monotonic() - start

    def connected(self, i: int) -> int:
        return sum(1 for p in self.nodes[i].peers() if p.get("connected", True))
