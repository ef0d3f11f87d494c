"""`powchain devnet`: a local network of N real `powchain node` processes on 127.0.0.1.

Each node gets its own data directory under DATADIR, consecutive free ports (P2P, API), a
`--connect` to the earlier nodes of `peers_of` (all of them up to 3 nodes), and a key. node0
also serves Stratum v1 (`--stratum`, the URL printed at start); the first `--miners` nodes
(default: every node of a devnet of up to 4, else 3) each get one `powchain miner` process
mining through node0's Stratum port to that node's key (log in DATADIR/nodeN/miner.log); the
others only relay, which costs little more than an idle process. Nodes start at once and stop
at once (`stop_all`, with a progress line). With `--traffic`
the keys of those miners act as wallets (in-process, no passphrase: devnet coins are play
money), sending payments and posts to each other through different nodes once their coinbases
mature. A status line (height and mempool per node) is printed about every 10 s; Ctrl-C or
SIGTERM stops every node (SIGTERM, wait, then SIGKILL). With a network file (`--network-file`)
the nodes run that network instead; its traffic starts once the miners' coinbases mature
(there is no faucet).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

from .api.cookie import COOKIE_NAME
from .core.keys import encode_address, xonly_pubkey
from .core.params import DEVNET, DEVNET_FAUCET_SECRET, ChainParams
from .core.units import COIN, format_coins
from .wallet.builder import build_post, build_transfer, suggest_fee, tx_size
from .wallet.client import ApiError, NodeClient

__all__ = [
    "run_devnet",
    "DevnetNode",
    "free_port_block",
    "restart_dead_miners",
    "DEVNET_PASSPHRASE",
]

DEVNET_PASSPHRASE = "devnet"
"""Passphrase of the wallets of `devnet --validators` (play money; printed in the help)."""

STATUS_EVERY = 10.0
STATUS_DETAIL_MAX = 6
"""Up to this many nodes the status line lists each one; above, it summarises."""
TRAFFIC_EVERY = 2.0
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 60.0
READY_PER_NODE = 4.0
"""Seconds more of start-up allowed per node: 25 processes start at once on 2 cores."""
POSTS = (
    "hello from the devnet",
    "proof of work, one hash at a time",
    "gm, blockchain",
    "this post is immutable (until a reorg)",
)


@dataclass
class DevnetNode:
    """One node process of the devnet and the key its miner pays."""

    index: int
    datadir: Path
    p2p_port: int
    api_port: int
    secret: bytes
    connect: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None
    params: ChainParams = DEVNET
    network_file: Path | None = None  # run this file's network instead of devnet
    mine: bool = True  # False: a relay-only node (no miner process, idles cheaply)
    stratum_port: int | None = None  # node0 serves Stratum v1 here
    miner: subprocess.Popen[bytes] | None = None  # the `powchain miner` paying this key
    validator_wallet: Path | None = None  # validator networks: sign with this wallet's key

    @property
    def address(self) -> str:
        return encode_address(self.params.hrp, xonly_pubkey(self.secret))

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "powchain", "node", "--network", "devnet"]
        if self.network_file is not None:
            cmd[-2:] = ["--network-file", str(self.network_file.resolve())]
        cmd += ["--datadir", str(self.datadir), "--p2p", f"127.0.0.1:{self.p2p_port}"]
        cmd += ["--api", f"127.0.0.1:{self.api_port}", "--miner-address", self.address]
        if self.stratum_port is not None:
            cmd += ["--stratum", f"127.0.0.1:{self.stratum_port}"]
        if self.validator_wallet is not None:
            cmd += ["--validator-key", str(self.validator_wallet)]
        for peer in self.connect:
            cmd += ["--connect", peer]
        return cmd

    def start(self) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        log = (self.datadir / "node.log").open("ab")
        env = dict(os.environ)
        if self.validator_wallet is not None:
            from .wallet.keystore import PASSPHRASE_ENV

            env[PASSPHRASE_ENV] = DEVNET_PASSPHRASE
        self.process = subprocess.Popen(
            self.command(),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def miner_command(self, pool: str) -> list[str]:
        return [sys.executable, "-m", "powchain", "miner", "--pool", pool, "--user", self.address]

    def start_miner(self, pool: str) -> None:
        """One `powchain miner` process paying this node's key through the Stratum `pool`."""
        log = (self.datadir / "miner.log").open("ab")
        self.miner = subprocess.Popen(
            self.miner_command(pool),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def terminate(self) -> None:
        """SIGTERM to the miner and the node without waiting (see `stop_all`)."""
        for proc in (self.miner, self.process):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def exited(self) -> bool:
        return all(p is None or p.poll() is not None for p in (self.miner, self.process))

    def kill(self) -> None:
        for proc in (self.miner, self.process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                if proc is not None:
                    os.killpg(proc.pid, signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL the process groups of the miner and the node."""
        _stop_process(self.miner)
        self.miner = None
        _stop_process(self.process)
        self.process = None


def _stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, wait, SIGKILL the process group (worker processes included)."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _port_free(port: int) -> bool:
    """Whether a node could listen on `port` now. SO_REUSEADDR as the nodes' own listen
    sockets (asyncio's default on POSIX): a port whose last connections are in TIME-WAIT after
    a restart is free, not taken (without it a restart within a minute moved every port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def ephemeral_low() -> int:
    """The lowest port the kernel hands out for outgoing connections (Linux: 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_port_block(count: int, start: int | None = None) -> int:
    """The first port of `count` consecutive free loopback ports (from `start` when given).

    A random block lies below the kernel's ephemeral range: the nodes' own outgoing
    connections (25 nodes dialing at once) take ephemeral ports, and one of them could land in
    a block chosen there between the probe and a node's bind."""
    top = max(20_000 + count, min(60_000, ephemeral_low()) - count)
    first = start if start is not None else random.randint(20_000, top)
    for base in range(first, 65_000 - count):
        if all(_port_free(p) for p in range(base, base + count)):
            return base
    raise OSError("no block of free ports")


def _wait_ready(node: DevnetNode, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    with NodeClient(node.api_url, timeout=2) as client:
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                why = _last_line(node.datadir / "node.log")
                raise RuntimeError(
                    f"node{node.index} exited ({why}); see {node.datadir / 'node.log'}"
                )
            try:
                client.status()
                return
            except ApiError:
                time.sleep(0.2)
    raise RuntimeError(f"node{node.index} did not answer within {timeout:.0f} s")


def _last_line(path: Path) -> str:
    """The last line of a node's log (why it stopped), at most 300 characters."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, 2) - 2000))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1][-300:] if lines else "empty log"


def _status_line(nodes: list[DevnetNode]) -> str:
    if len(nodes) > STATUS_DETAIL_MAX:
        return _status_summary(nodes)
    parts = []
    for node in nodes:
        try:
            with NodeClient(node.api_url, timeout=2) as client:
                s = client.status()
            parts.append(f"node{node.index} h={s['height']} mempool={s['mempool_size']}")
        except ApiError:
            parts.append(f"node{node.index} down")
    return time.strftime("%H:%M:%S ") + " | ".join(parts)


def _status_summary(nodes: list[DevnetNode]) -> str:
    """One short line for a large devnet: nodes up, lowest and highest height, mempool."""
    heights, mempools, down = [], [], []
    for node in nodes:
        try:
            with NodeClient(node.api_url, timeout=2) as client:
                s = client.status()
            heights.append(int(s["height"]))
            mempools.append(int(s["mempool_size"]))
        except ApiError:
            down.append(f"node{node.index}")
    if not heights:
        return time.strftime("%H:%M:%S ") + "every node down"
    line = f"{len(heights)} of {len(nodes)} nodes up, height {min(heights)}"
    if max(heights) != min(heights):
        line += f"-{max(heights)}"
    line += f", mempool up to {max(mempools)}"
    if down:
        line += f"; down: {' '.join(down)}"
    return time.strftime("%H:%M:%S ") + line


@dataclass(frozen=True)
class TrafficWallet:
    """A devnet wallet of the traffic generator: a node's miner key, or the faucet."""

    name: str
    secret: bytes
    hrp: str = DEVNET.hrp

    @property
    def address(self) -> str:
        return encode_address(self.hrp, xonly_pubkey(self.secret))


def _wallets(nodes: list[DevnetNode]) -> list[TrafficWallet]:
    hrp = nodes[0].params.hrp
    miners = [TrafficWallet(f"node{n.index}", n.secret, hrp) for n in nodes]
    if nodes[0].params != DEVNET:
        return miners  # a file network has no published faucet key
    return [TrafficWallet("faucet", DEVNET_FAUCET_SECRET)] + miners


def _traffic_step(nodes: list[DevnetNode], rng: random.Random) -> str | None:
    """One payment or post from a random funded wallet through a random node.

    The faucet (funded at genesis) pays the miners' wallets first, so traffic flows from
    block 1 on instead of waiting for coinbases to mature.
    """
    wallets = _wallets(nodes)
    if len(wallets) < 2:
        return None
    sender, via = rng.choice(wallets), rng.choice(nodes)
    chain_id = via.params.chain_id
    receiver = rng.choice([w for w in wallets if w is not sender])
    with NodeClient(via.api_url, timeout=5) as client:
        account = client.account(sender.address)
        spendable = int(account["pending_balance"])
        if spendable < COIN // 10:
            return None
        nonce = int(account["next_nonce"])
        aux = secrets.token_bytes(32)
        if rng.random() < 0.3:
            text = rng.choice(POSTS)
            fee = suggest_fee(tx_size(1 + len(text.encode())), 2)
            tx = build_post(sender.secret, chain_id, nonce, text, fee, aux)
            what = f"post by {sender.name}: {text!r}"
        else:
            amount = rng.randint(1, max(1, spendable // 20))
            fee = suggest_fee(tx_size(0), 2)
            recipient = xonly_pubkey(receiver.secret)
            tx = build_transfer(sender.secret, chain_id, nonce, recipient, amount, fee, aux)
            what = f"{format_coins(amount)} {sender.name} -> {receiver.name}"
        client.submit_tx(tx.serialize())
    return f"{what} via node{via.index}"


def _save_keys(datadir: Path, nodes: list[DevnetNode]) -> Path:
    path = datadir / "wallets.json"
    keys = [{"node": n.index, "address": n.address, "secret": n.secret.hex()} for n in nodes]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keys, f, indent=2)
    return path


def _load_keys(datadir: Path) -> list[bytes]:
    """The miner keys of an earlier run in the same datadir, so its coins stay usable."""
    try:
        entries = json.loads((datadir / "wallets.json").read_text())
        return [bytes.fromhex(entry["secret"]) for entry in entries]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def run_devnet(
    count: int,
    datadir: Path,
    traffic: bool,
    base_port: int | None = None,
    network_file: Path | None = None,
    miners: int | None = None,
    validators: int = 0,
) -> int:
    """Start `count` nodes, print their addresses, run until Ctrl-C; exit code.

    `network_file`: run that file network instead of devnet (NetworkFileError when invalid).
    `miners`: how many of the nodes mine (default `default_miners`); the rest only relay.
    `validators`: run a validator network of that many validator nodes instead (issue 14:
    `count` and `miners` are ignored; its file is DATADIR/validators.toml).
    The parent `datadir` is locked first (`lockfile`): a second devnet there exits with one
    line naming the PID of the first, having touched nothing.
    """
    from .lockfile import DatadirLocked, lock_datadir

    params = DEVNET
    if network_file is not None:
        from .config import load_network_file

        params = load_network_file(network_file).params
    try:  # before any node's files are touched: a second devnet here must change nothing
        lock = lock_datadir(datadir, "powchain devnet")
    except DatadirLocked as exc:
        print(f"devnet: cannot start: {exc}", file=sys.stderr)
        return 1
    try:
        if validators:
            from .config import load_network_file

            count, miners = validators, 0
            network_file = _validator_network(datadir, validators)
            params = load_network_file(network_file).params
        return _run_locked(count, datadir, traffic, base_port, network_file, params, miners)
    finally:
        lock.release()


def _validator_network(datadir: Path, count: int) -> Path:
    """DATADIR/validators.toml (created once, reused by a later run): a validator network of
    the keys in DATADIR/wallets.json (new ones as needed), 2 s blocks, 1,000 coins allocated
    to each validator; each node's key also in an encrypted wallet nodeI/validator.json."""
    from .config import create_network, write_network_file
    from .wallet.keystore import Keystore

    datadir.mkdir(parents=True, exist_ok=True)
    known = _load_keys(datadir)[:count]
    known += [secrets.token_bytes(32) for _ in range(count - len(known))]
    keys_file = datadir / "wallets.json"
    entries = [{"node": i, "secret": s.hex()} for i, s in enumerate(known)]
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(entries, f, indent=2)
    for i, secret in enumerate(known):
        wallet = datadir / f"node{i}" / "validator.json"
        if not wallet.exists():
            wallet.parent.mkdir(parents=True, exist_ok=True)
            store = Keystore()
            store.add("validator", secret)
            store.save(wallet, DEVNET_PASSPHRASE)
    path = datadir / "validators.toml"
    if path.exists():
        return path
    keys = tuple(xonly_pubkey(s) for s in known)
    allocations = tuple((encode_address("vnet", k), 1_000 * COIN) for k in keys)
    created = create_network(
        "vnet", allocations, consensus="validators", validators=keys, target_spacing=2,
        hrp="vnet", p2p_port=58_744, api_port=58_745,
    )  # fmt: skip
    write_network_file(path, created)
    return path


def _run_locked(
    count: int,
    datadir: Path,
    traffic: bool,
    base_port: int | None,
    network_file: Path | None,
    params: ChainParams,
    miners: int | None,
) -> int:
    wanted = base_port or params.p2p_port
    ports = 2 * count + 1  # P2P and API per node, then node0's Stratum port
    base = free_port_block(ports, wanted)
    if base != wanted:
        print(
            f"ports {wanted}-{wanted + ports - 1} are not all free (another devnet or "
            f"program?): this devnet uses {base}-{base + ports - 1}",
            flush=True,
        )
    nodes = _plan(count, datadir, base, params, network_file, miners)
    validators = params.consensus == "validators"
    if not validators:  # a validator network mines nothing: no Stratum port
        nodes[0].stratum_port = base + 2 * count
    pool = f"stratum+tcp://127.0.0.1:{base + 2 * count}"
    stopping = _Interrupts()
    signal.signal(signal.SIGTERM, stopping.handler)
    # Ctrl-C must stop the devnet even when started from a background job, whose SIGINT is
    # ignored at exec (Python then leaves it ignored): the nodes would outlive the devnet.
    signal.signal(signal.SIGINT, stopping.handler)
    try:
        _start_all(nodes)
        for node in nodes:
            print(f"node{node.index}: explorer/API {node.api_url}/  (docs {node.api_url}/docs)")
            print(f"       p2p ws://127.0.0.1:{node.p2p_port}/  token {node.datadir / COOKIE_NAME}")
            role = f"miner {node.address}" if node.mine else "relay only (no miner)"
            if node.validator_wallet is not None:
                role = f"validator {node.address}"
            print(f"       {role}  log {node.datadir / 'node.log'}")
            if node.stratum_port is not None:
                print(f"       stratum {pool}  (point any SHA-256 miner here)")
        mining = [node for node in nodes if node.mine]
        for node in mining:
            node.start_miner(pool)
        if not validators:
            print(f"miners: {len(mining)} `powchain miner` processes through {pool}")
        role = "validators" if validators else "miners"
        print(f"keys ({params.name} {role}): {_save_keys(datadir, nodes)}")
        if params == DEVNET:
            faucet = encode_address(DEVNET.hrp, xonly_pubkey(DEVNET_FAUCET_SECRET))
            print(f"faucet {faucet}: `powchain faucet ADDRESS --network devnet --node URL`")
        print("Ctrl-C stops the devnet.", flush=True)
        _loop(nodes, traffic, pool)
    except KeyboardInterrupt:
        print("\nstopping the devnet...", flush=True)
    except RuntimeError as exc:
        print(f"devnet: {exc}", file=sys.stderr)
        return 1
    finally:
        # `make run` + Ctrl-C: make forwards a second signal to us while we stop the nodes;
        # `_Interrupts` raises KeyboardInterrupt once only, so the stop always completes.
        stopping.stopping = True
        stop_all(nodes)
    return 0


class _Interrupts:
    """SIGINT/SIGTERM raise KeyboardInterrupt the first time only: a second Ctrl-C (make
    forwards one) must neither interrupt the stop nor end in click's `Aborted!`."""

    def __init__(self) -> None:
        self.stopping = False

    def handler(self, _sig: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            raise KeyboardInterrupt


def peers_of(index: int) -> list[int]:
    """The earlier nodes node `index` dials: 1, 2, 4, 8 and 16 before it (a full mesh up to 3
    nodes; at most 5 outbound links and a diameter of a few hops for 25)."""
    return sorted({index - step for step in (1, 2, 4, 8, 16) if index - step >= 0})


def default_miners(count: int) -> int:
    """Mining nodes when --miners is not given: all of a small devnet, 3 of a large one."""
    return count if count <= 4 else 3


def _plan(
    count: int,
    datadir: Path,
    base: int,
    params: ChainParams,
    network_file: Path | None,
    miners: int | None,
) -> list[DevnetNode]:
    known = _load_keys(datadir)
    mining = default_miners(count) if miners is None else miners
    nodes: list[DevnetNode] = []
    for i in range(count):
        p2p, api = base + 2 * i, base + 2 * i + 1
        # validators talk to each other directly (proposals, signatures): a full mesh
        dial = range(i) if params.consensus == "validators" else peers_of(i)
        connect = [f"127.0.0.1:{nodes[j].p2p_port}" for j in dial]
        secret = known[i] if i < len(known) else secrets.token_bytes(32)
        node = DevnetNode(i, datadir / f"node{i}", p2p, api, secret, connect)
        node.params, node.network_file, node.mine = params, network_file, i < mining
        wallet = node.datadir / "validator.json"
        if params.consensus == "validators" and wallet.exists():
            node.validator_wallet = wallet
        nodes.append(node)
    return nodes


def _start_all(nodes: list[DevnetNode]) -> None:
    """Start every process at once, then wait until each answers (RuntimeError otherwise)."""
    for node in nodes:
        node.start()
    if len(nodes) > 4:
        print(f"starting {len(nodes)} nodes...", flush=True)
    for node in nodes:
        _wait_ready(node, READY_TIMEOUT + READY_PER_NODE * len(nodes))


def stop_all(nodes: list[DevnetNode], out: TextIO | None = None) -> None:
    """SIGTERM every node at once, then wait for all (SIGKILL after STOP_TIMEOUT), printing
    one progress line that counts the stopped ones."""
    out = out or sys.stdout
    running = [n for n in nodes if n.process is not None]
    for node in running:
        node.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT
    done = 0
    tty = out.isatty()  # a terminal redraws one line; a log file gets the last count only
    while running:
        still = [n for n in running if not n.exited()]
        changed = len(still) != len(running)
        done += len(running) - len(still)
        if (tty and changed) or not still:
            print(f"\rstopped {done} of {done + len(still)} nodes", end="", file=out, flush=True)
        running = still
        if running and time.monotonic() > deadline:
            for node in running:
                node.kill()
            deadline = float("inf")
        if running:
            time.sleep(0.1)
    for node in nodes:
        node.stop()  # reaps, and kills any leftover mining workers
    if done:
        print(file=out, flush=True)


def restart_dead_miners(nodes: list[DevnetNode], pool: str) -> list[int]:
    """Start again every node's `powchain miner` that exited (killed, crashed); their indexes."""
    restarted = []
    for node in nodes:
        if node.miner is not None and node.miner.poll() is not None:
            node.start_miner(pool)
            restarted.append(node.index)
    return restarted


def _loop(nodes: list[DevnetNode], traffic: bool, pool: str) -> None:
    rng = random.Random()
    next_status = time.monotonic()
    while True:
        if time.monotonic() >= next_status:
            print(_status_line(nodes), flush=True)
            next_status = time.monotonic() + STATUS_EVERY
            for index in restart_dead_miners(nodes, pool):
                print(f"  node{index}'s miner had exited; restarted", flush=True)
        if traffic:
            try:
                sent = _traffic_step(nodes, rng)
            except ApiError as exc:
                sent = f"(rejected: {exc.error})"
            if sent:
                print(f"  tx: {sent}", flush=True)
        time.sleep(TRAFFIC_EVERY)
