"""readme_tour: every command of the README's "A five-minute tour", read from README.md and run
in order against a real devnet (issue 12), so the README and what works cannot drift apart.

What the test changes, and only that: ports (the README's 28744-28749 become a free block,
18744/18745 of the regtest node free ports), paths (`/tmp/r1` a folder of this test), the
placeholders (`dpow1...recipient...` a devnet address, `<txid>` the txid printed last), and
`make run` becomes the command the Makefile's `run` target runs (checked against the Makefile)
with `--base-port`. A long-running command (`make run`, `powchain node`) is started, waited
for, and stopped with Ctrl-C at the end (exit 0, no `Aborted!`). Where the README says that
something happens later (the post "arrived there too"), the test waits for it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from powchain.core.units import COIN
from powchain.devnet import free_port_block

from .framework import free_port, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
TXID = re.compile(r"\b[0-9a-f]{64}\b")
WAIT = 300.0


def tour_commands(text: str) -> list[str]:
    """The commands of the tour's ```sh blocks, in order, comments and blank lines dropped."""
    start = text.index("## A five-minute tour")
    end = text.index("\n## ", start + 1)
    section = text[start:end]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_the_tour_is_read_from_the_readme() -> None:
    commands = tour_commands(README.read_text())
    assert commands[0] == "make run"
    assert any(c.startswith("powchain wallet send") for c in commands)
    assert any("curl -s http://127.0.0.1:28747/api/v1/posts" in c for c in commands)
    assert all("28746" not in c for c in commands), "28746 is node1's P2P port, not its API"


class Tour:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.base = free_port_block(7)
        self.env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.env["PATH"] = f"{Path(sys.executable).parent}:{self.env['PATH']}"
        self.env.pop("POWCHAIN_WALLET_PASSPHRASE", None)
        self.background: list[tuple[subprocess.Popen[str], Path]] = []
        self.last_txid: str | None = None
        self.regtest_api: str | None = None

    # -- rewriting --------------------------------------------------------------------------

    def rewrite(self, command: str) -> str:
        command = re.sub(
            r"\b2874([4-9])\b", lambda m: str(self.base + int(m.group(1)) - 4), command
        )
        command = command.replace("/tmp/r1", str(self.tmp / "r1"))
        if "dpow1...recipient..." in command:
            command = command.replace("dpow1...recipient...", self.recipient())
        if "<txid>" in command:
            assert self.last_txid, "a txid was printed before `powchain tx <txid>`"
            command = command.replace("<txid>", self.last_txid)
        if self.regtest_api and "--network regtest" in command and "powchain node" not in command:
            command += f" --node {self.regtest_api}"
        return command

    def recipient(self) -> str:
        keys = json.loads((self.tmp / "devnet-data" / "wallets.json").read_text())
        return str(keys[1]["address"])

    # -- running ------------------------------------------------------------------------------

    def start(self, args: list[str], ready: str, name: str) -> None:
        out = self.tmp / f"{name}.out"
        with out.open("w") as f:
            proc = subprocess.Popen(
                args, cwd=self.tmp, stdout=f, stderr=subprocess.STDOUT, text=True, env=self.env
            )
        self.background.append((proc, out))
        wait_until(
            lambda: ready in out.read_text() or proc.poll() is not None, WAIT, 0.2, f"{name} up"
        )
        assert proc.poll() is None, out.read_text()

    def run(self, command: str) -> str:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.tmp,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"$ {command}\n{output}"
        assert "Traceback" not in output, output
        found = TXID.findall(done.stdout)
        if found and ("send" in command or "post" in command or "faucet" in command):
            self.last_txid = found[-1]
        return output

    def stop_all(self) -> list[str]:
        texts = []
        for proc, out in reversed(self.background):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            texts.append(f"exit {proc.returncode}\n" + out.read_text())
        self.background.clear()
        return texts


@pytest.fixture
def tour(tmp_path: Path) -> Iterator[Tour]:
    t = Tour(tmp_path)
    try:
        yield t
    finally:
        t.stop_all()


def node0_spendable(tour: Tour, address: str) -> int:
    url = f"http://127.0.0.1:{tour.base + 1}/api/v1/accounts/{address}"
    return int(httpx.get(url, timeout=10).json()["balance"])


def test_readme_tour(tour: Tour) -> None:
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^run: .*\n\t(.*)$", makefile, re.M)
    assert recipe is not None
    assert recipe.group(1).strip() == "$(BIN)/powchain devnet --nodes 3 --traffic"
    address: str | None = None
    for raw in tour_commands(README.read_text()):
        command = tour.rewrite(raw)
        if raw == "make run":
            args = [sys.executable, "-m", "powchain", "devnet", "--nodes", "3", "--traffic"]
            tour.start([*args, "--base-port", str(tour.base)], "Ctrl-C stops the devnet.", "devnet")
            continue
        if raw.startswith("source "):
            assert (REPO / shlex.split(raw)[1]).parent.is_dir() or (REPO / ".venv").exists()
            continue
        if raw.startswith("export "):
            name, _, value = raw[len("export ") :].partition("=")
            tour.env[name] = shlex.split(value)[0]
            continue
        if re.match(r"^[A-Z_]+=", raw):
            name, _, value = command.partition("=")
            tour.env[name] = shlex.split(value)[0]
            continue
        if raw.startswith("powchain node "):
            api, p2p = free_port(), free_port()
            tour.regtest_api = f"http://127.0.0.1:{api}"
            args = [*shlex.split(command), "--p2p", f"127.0.0.1:{p2p}", "--api", f"127.0.0.1:{api}"]
            tour.start(args, "API listening", "regtest-node")
            continue
        if "wallet send" in raw and address is not None:
            wait_until(
                lambda a=address: node0_spendable(tour, a) >= 2 * COIN,  # type: ignore[misc]
                WAIT,
                1,
                "the faucet payment to confirm (spendable after the next block)",
            )
        if "/api/v1/posts" in raw:
            wait_until(
                lambda c=command: "hello, chain" in tour.run(c), WAIT, 2, "the post at node1"
            )
            continue
        output = tour.run(command)
        if raw.startswith("powchain wallet address"):
            address = output.strip().splitlines()[-1]
            assert address.startswith("dpow1")
        if raw.startswith("powchain status"):  # JSON on stdout, then the hash-rate line
            body, _, rate = output.rpartition("}")
            assert json.loads(body + "}")["network"] == "devnet"
            assert rate.strip().startswith("hash rate: network ~"), rate
        if raw.startswith("powchain tx"):
            assert json.loads(output)["amount"].endswith(".00000000") or "." in output
        if "mine 101" in raw:
            assert output.count("\n") >= 101
    texts = tour.stop_all()
    for text in texts:
        assert text.startswith("exit 0"), text[-2000:]
        assert "Aborted!" not in text
