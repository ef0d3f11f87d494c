"""feature_datadir (issue 12): one process per datadir, ports that stay put across a restart.

Real processes only: a second `powchain node` on a datadir in use, a second `powchain devnet`
on a devnet folder in use (the `make run` twice of the issue), and a devnet stopped and started
again at once, which must get the same ports although its old connections sit in TIME-WAIT.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from powchain.devnet import free_port_block

from .framework import TestFramework, free_port, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(300)]

POWCHAIN = [sys.executable, "-m", "powchain"]
API_LINE = re.compile(r"node(\d+): explorer/API http://127\.0\.0\.1:(\d+)/")
P2P_LINE = re.compile(r"p2p ws://127\.0\.0\.1:(\d+)/")


def run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [*POWCHAIN, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


def test_second_node_on_a_datadir_is_refused(framework: TestFramework) -> None:
    node = framework.add_node()
    cookie = (node.datadir / "api.cookie").read_text()
    log_before = node.log_text()
    second = run(
        ["node", "--network", "regtest", "--datadir", str(node.datadir)]
        + ["--p2p", f"127.0.0.1:{free_port()}"]
        + ["--api", f"127.0.0.1:{free_port()}"]
    )
    assert second.returncode == 1
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, second.stderr
    assert f"is in use by PID {node.process.pid} (powchain node)" in lines[0]
    assert str(node.datadir) in lines[0]
    # the first node is untouched: same token, its admin calls still work, its log unchanged
    assert (node.datadir / "api.cookie").read_text() == cookie
    assert node.mine(1, framework.wallet("lock").address)
    assert node.log_text().startswith(log_before)
    assert "in use" not in node.log_text()


STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_devnet_left() -> Iterator[None]:
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def start_devnet(tmp: Path, base: int, nodes: int = 1) -> tuple[subprocess.Popen[str], Path]:
    out = tmp / f"devnet-{base}-{len(list(tmp.glob('devnet-*.out')))}.out"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with out.open("w") as f:
        proc = subprocess.Popen(
            [*POWCHAIN, "devnet", "--nodes", str(nodes), "--base-port", str(base)],
            cwd=tmp,
            stdout=f,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
    STARTED.append(proc)
    wait_until(
        lambda: "Ctrl-C stops the devnet." in out.read_text() or proc.poll() is not None,
        180,
        0.2,
        "the devnet to start",
    )
    assert proc.poll() is None, out.read_text()
    return proc, out


def stop_devnet(proc: subprocess.Popen[str], out: Path) -> str:
    proc.send_signal(signal.SIGINT)
    proc.wait(120)
    text = out.read_text()
    assert proc.returncode == 0, text
    return text


def test_make_run_twice_in_one_folder(tmp_path: Path) -> None:
    """The second devnet says why it cannot start; the first keeps running untouched."""
    first, out = start_devnet(tmp_path, free_port_block(3))
    try:
        node_log = tmp_path / "devnet-data" / "node0" / "node.log"
        cookie = (tmp_path / "devnet-data" / "node0" / "api.cookie").read_text()
        log_size = node_log.stat().st_size
        second = run(["devnet", "--nodes", "1"], cwd=tmp_path)
        assert second.returncode == 1
        lines = [line for line in (second.stdout + second.stderr).splitlines() if line.strip()]
        assert lines == [
            f"devnet: cannot start: devnet-data is in use by PID {first.pid} (powchain devnet); "
            "stop that process first, or use another --datadir"
        ]
        assert (tmp_path / "devnet-data" / "node0" / "api.cookie").read_text() == cookie
        assert node_log.stat().st_size >= log_size
        assert "in use" not in node_log.read_text()
        api = int(API_LINE.search(out.read_text()).group(2))  # type: ignore[union-attr]
        assert httpx.get(f"http://127.0.0.1:{api}/api/v1/status", timeout=10).status_code == 200
    finally:
        text = stop_devnet(first, out)
    assert "Aborted!" not in text
    assert "stopped 1 of 1 nodes" in text


def test_restart_within_seconds_keeps_the_ports(tmp_path: Path) -> None:
    """Two peers and an HTTP client leave connections in TIME-WAIT on the devnet's ports; a
    restart at once still gets every port back (it moved them before: SO_REUSEADDR)."""
    base = free_port_block(5)
    proc, out = start_devnet(tmp_path, base, nodes=2)
    text = out.read_text()
    apis = [int(port) for _, port in API_LINE.findall(text)]
    for api in apis:
        with httpx.Client(base_url=f"http://127.0.0.1:{api}") as client:
            wait_until(
                lambda c=client: c.get("/api/v1/status").json()["peers"] >= 1,  # type: ignore[misc]
                120,
                0.5,
                "the two nodes to connect",
            )
    stop_devnet(proc, out)
    ports = sorted(apis + [int(p) for p in P2P_LINE.findall(text)])
    assert ports == list(range(base, base + 4))
    again, out2 = start_devnet(tmp_path, base, nodes=2)
    try:
        text2 = out2.read_text()
        assert "not all free" not in text2
        assert (
            sorted(
                [int(p) for _, p in API_LINE.findall(text2)]
                + [int(p) for p in P2P_LINE.findall(text2)]
            )
            == ports
        )
    finally:
        stop_devnet(again, out2)


def test_peers_commands_and_clear_bans(framework: TestFramework) -> None:
    node = framework.add_node(extra_args=["--clear-bans"])
    assert "cleared 0 peer ban(s) (--clear-bans)" in node.log_text()
    common = ["--network", "regtest", "--node", node.api_url, "--datadir", str(node.datadir)]
    assert run(["peers", "bans", *common]).stdout.strip() == "no bans"
    assert run(["peers", "list", *common]).stdout.strip() == "no peers"
    assert run(["peers", "unban", "--all", *common]).stdout.strip() == "no bans"
    missing = run(["peers", "unban", "127.0.0.1:1", *common])
    assert missing.returncode == 1
    assert "127.0.0.1:1 is not banned" in missing.stderr
    neither = run(["peers", "unban", *common])
    assert neither.returncode == 1 and "give either ADDRESS or --all" in neither.stderr
