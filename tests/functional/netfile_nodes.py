"""Nodes of a file network for functional tests (issue 6): `powchain node --network-file FILE`.

`FileNodeProcess` is a framework `NodeProcess` whose command line names a network file instead
of `--network`; `CommandNodeProcess` runs a given `powchain` command line (the compose test).
Both are registered with the framework, so its teardown stops them like any other node.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powchain.config import load_network_file
from powchain.consensus.netfile import NetworkFile
from powchain.core.params import ChainParams

from .framework import NodeProcess, TestFramework, run_cli, wait_until


@dataclass
class FileNodeProcess(NodeProcess):
    """A node started with `--network-file network_file` (read again at every start)."""

    network_file: Path = field(default_factory=Path)

    @property
    def params(self) -> ChainParams:
        return load_network_file(self.network_file).params

    def args(self) -> list[str]:
        cmd = super().args()
        at = cmd.index("--network")
        cmd[at : at + 2] = ["--network-file", str(self.network_file)]
        return cmd


@dataclass
class CommandNodeProcess(NodeProcess):
    """A node started with exactly `command` (the arguments after `powchain`)."""

    command: list[str] = field(default_factory=list)

    def args(self) -> list[str]:
        return [sys.executable, "-m", "powchain", *self.command]


def add_file_node(
    framework: TestFramework,
    network_file: Path,
    *,
    connect: Iterable[NodeProcess] = (),
    extra_args: Iterable[str] = (),
    start: bool = True,
) -> FileNodeProcess:
    """A new node of the file network, with its own datadir and ports, torn down by `framework`."""
    index = len(framework.nodes)
    node = FileNodeProcess(
        index,
        framework.tmp_path / f"node{index}",
        connect=[peer.p2p_address for peer in connect],
        extra_args=list(extra_args),
        network_file=network_file,
    )
    framework.nodes.append(node)
    if start:
        node.start()
    return node


def add_command_node(
    framework: TestFramework, command: list[str], datadir: Path, **ports: int
) -> NodeProcess:
    """A node running `powchain COMMAND...` whose --datadir is `datadir`; `ports`: its
    p2p_port and api_port (where the framework's client finds it)."""
    index = len(framework.nodes)
    node = CommandNodeProcess(index, datadir, command=command, **ports)
    framework.nodes.append(node)
    node.start()
    return node


def create_network(path: Path, name: str, *args: str) -> tuple[NetworkFile, str]:
    """`powchain network create NAME --out PATH ARGS...`: the loaded file and the CLI's output."""
    result = run_cli(["network", "create", name, "--out", str(path), *args])
    assert result.returncode == 0, result.stdout + result.stderr
    return load_network_file(path), result.stdout


def connected(node: NodeProcess) -> list[dict[str, Any]]:
    """The node's connected peers (GET /peers also lists recently refused ones)."""
    return [p for p in node.peers() if p.get("connected")]


def refusals(node: NodeProcess) -> list[str]:
    """Reasons of the node's recently refused peers."""
    return [str(p.get("reason")) for p in node.peers() if not p.get("connected")]


def wait_for_exit(node: NodeProcess, timeout: float = 60.0) -> int:
    """Wait until the node's process ends by itself; its exit code."""
    process = node.process
    assert process is not None, f"{node.name} was not started"
    wait_until(lambda: process.poll() is not None, timeout, 0.1, f"{node.name} to exit")
    return int(process.returncode)


__all__ = [
    "FileNodeProcess",
    "CommandNodeProcess",
    "add_file_node",
    "add_command_node",
    "create_network",
    "connected",
    "refusals",
    "wait_for_exit",
]
