"""devnet_scale: `powchain devnet --nodes 25` (the tutorials' size) comes up on 2 cores, stays
in sync and stops (issue 12).

Three nodes mine and 22 only relay (the default above 4 nodes); every node answers, all reach
one tip, and after the miners have found another block all reach that one too. Ctrl-C stops
every node at once with a progress line, exit 0, no `Aborted!`. The resident memory of the
node processes is logged, not asserted (memory is measured by the benchmarks).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from powchain.devnet import free_port_block

from .framework import wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(900)]

NODES = 25
API_LINE = re.compile(r"node(\d+): explorer/API (http://127\.0\.0\.1:\d+)/")


def heights(urls: list[str]) -> list[int]:
    out = []
    for url in urls:
        out.append(int(httpx.get(f"{url}/api/v1/status", timeout=20).json()["height"]))
    return out


def tips(urls: list[str]) -> set[str]:
    return {httpx.get(f"{u}/api/v1/status", timeout=20).json()["tip"] for u in urls}


def rss_mb(pid_parent: int) -> float:
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except OSError:
            continue
        if b"powchain\x00node" in cmdline:
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


def test_devnet_of_25_nodes(tmp_path: Path) -> None:
    base = free_port_block(2 * NODES + 1)
    out = tmp_path / "devnet.out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "powchain", "devnet", "--nodes", str(NODES)]
    with out.open("w") as f:
        proc = subprocess.Popen(
            [*args, "--base-port", str(base)],
            cwd=tmp_path,
            stdout=f,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    try:
        wait_until(
            lambda: "Ctrl-C stops the devnet." in out.read_text() or proc.poll() is not None,
            600,
            1,
            "25 nodes to start",
        )
        text = out.read_text()
        assert proc.poll() is None, text
        urls = [url for _, url in API_LINE.findall(text)]
        assert len(urls) == NODES
        assert text.count("       miner dpow1") == 3
        assert text.count("relay only (no miner)") == NODES - 3
        wait_until(lambda: min(heights(urls)) >= 1 and len(tips(urls)) == 1, 600, 2, "one tip")
        first = heights(urls)[0]
        wait_until(
            lambda: min(heights(urls)) > first and len(tips(urls)) == 1,
            600,
            2,
            "a newer block on every node",
        )
        logging_rss = rss_mb(proc.pid)
        print(f"25-node devnet: node processes' RSS {logging_rss:.0f} MB in total")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(180)
    text = out.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert f"stopped {NODES} of {NODES} nodes" in text
    assert "Aborted!" not in text
