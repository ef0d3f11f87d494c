"""Functional test framework: real `powchain node` processes driven through the REST API.

In the style of Bitcoin Core's test_framework, on pytest. A `TestFramework` (the `framework`
fixture of conftest.py) starts `NodeProcess`es, each a real `python -m powchain node --network
regtest` subprocess on 127.0.0.1 with free ports and a datadir under the test's tmp_path. Its
stdout/stderr go to `DATADIR/process.log`, which the conftest hook prints when a test fails.
Tests wait on conditions (`wait_until`), never on bare sleeps, and log their steps as sentences.

This module talks to nodes only through their public surfaces (REST API, CLI, the datadir's
cookie and log) and uses `powchain.core` to build and sign transactions like a wallet would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from powchain.core import keys
from powchain.core.params import NETWORKS, ChainParams
from powchain.core.transaction import TX_VERSION, Transaction, make_post_data

log = logging.getLogger("functional")

API_PREFIX = "/api/v1"
DEFAULT_FEE = 10_000
"""Units; comfortably above any minimum relay fee for a ~200-byte transaction."""
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

_handed_out_ports: set[int] = set()


# ---------------------------------------------------------------------------------------------
# Waiting


class WaitTimeout(AssertionError):
    """A `wait_until` condition did not become true in time."""


def wait_until(
    predicate: Callable[[], Any],
    timeout: float = 60.0,
    interval: float = 0.1,
    description: str | None = None,
) -> Any:
    """Poll `predicate` until it returns a truthy value (returned); WaitTimeout otherwise.

    Exceptions of type ApiError or httpx.TransportError count as "not yet" (a node may be busy
    or restarting); the last one is quoted in the timeout message. Any other exception
    propagates at once (a NodeExited, say, must not be waited out).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except (ApiError, httpx.TransportError) as exc:
            last_error = exc
        if time.monotonic() >= deadline:
            what = description or getattr(predicate, "__name__", repr(predicate))
            extra = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{extra}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Ports


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, close), never repeated."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port


# ---------------------------------------------------------------------------------------------
# API errors


class ApiError(Exception):
    """A non-2xx answer of the REST API: `status`, and `error`/`message` when the body has them."""

    def __init__(self, status: int, body: Any, what: str) -> None:
        self.status = status
        self.body = body
        self.error = body.get("error") if isinstance(body, dict) else None
        self.message = body.get("message") if isinstance(body, dict) else None
        super().__init__(f"{what} -> HTTP {status}: {body!r}")


class NodeExited(AssertionError):
    """The node process died while the test expected it running."""


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return response.text


def as_list(value: Any, *keys_: str) -> list[Any]:
    """A list answer, or the list under the first of `keys_` present in a dict answer."""
    if isinstance(value, list):
        return value
    for key in keys_:
        if isinstance(value, dict) and isinstance(value.get(key), list):
            return list(value[key])
    raise AssertionError(f"expected a list (or one under {keys_}) in {value!r}")


# ---------------------------------------------------------------------------------------------
# Node process


@dataclass
class NodeProcess:
    """One `powchain node` subprocess and a small REST client for it.

    Ports stay the same across restarts so peers can reconnect. `connect` holds "host:port"
    strings passed as --connect. The admin token is re-read from DATADIR/api.cookie on start.
    """

    index: int
    datadir: Path
    network: str = "regtest"
    connect: list[str] = field(default_factory=list)
    mining: bool = False
    extra_args: list[str] = field(default_factory=list)
    p2p_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    _client: httpx.Client | None = field(default=None, repr=False)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def params(self) -> ChainParams:
        return NETWORKS[self.network]

    @property
    def p2p_address(self) -> str:
        return f"127.0.0.1:{self.p2p_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_path(self) -> Path:
        return self.datadir / "process.log"

    def command_prefix(self) -> list[str]:
        """Words before the interpreter (e.g. `ip netns exec NS` in the soak harness)."""
        return []

    def process_env(self) -> dict[str, str]:
        """Environment added to the process's (e.g. `POWCHAIN_CRASH_AT` in the soak harness)."""
        return {}

    def p2p_listen(self) -> str:
        """The --p2p address the process binds."""
        return self.p2p_address

    def api_listen(self) -> str:
        """The --api address the process binds."""
        return f"127.0.0.1:{self.api_port}"

    def args(self) -> list[str]:
        """The command line of this node."""
        cmd = [*self.command_prefix(), sys.executable, "-m", "powchain", "node"]
        cmd += ["--network", self.network, "--datadir", str(self.datadir)]
        cmd += ["--p2p", self.p2p_listen(), "--api", self.api_listen()]
        for peer in self.connect:
            cmd += ["--connect", peer]
        if self.mining:
            cmd.append("--mine")
        return cmd + list(self.extra_args)

    def start(self, wait: bool = True) -> None:
        """Spawn the process (its own session, so its mining workers die with it)."""
        assert not self.running, f"{self.name} is already running"
        self.datadir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            stamp = time.strftime("%H:%M:%S")
            out.write(f"\n=== {stamp} start: {' '.join(self.args())}\n".encode())
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("POWCHAIN_WALLET_PASSPHRASE", None)  # a node never reads the runner's wallet
        env.update(self.process_env())  # unless the test gives one (a validator's key)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.args(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        if wait:
            self.wait_for_ready()

    def wait_for_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until GET /status answers 200; NodeExited if the process dies first."""

        def ready() -> bool:
            self.check_alive()
            try:
                r = self.http.get(f"{API_PREFIX}/status", timeout=5)
            except httpx.TransportError:
                return False
            return r.status_code == 200

        wait_until(ready, timeout, 0.1, f"{self.name} to answer GET /status")
        self.token = self.read_token()

    def read_token(self) -> str:
        """The admin token from DATADIR/api.cookie (a bare token, or `user:token`)."""
        text = (self.datadir / "api.cookie").read_text().strip()
        return text.split(":", 1)[1] if ":" in text else text

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        """Raise NodeExited (quoting the log) when the process has ended."""
        if self.process is not None and self.process.poll() is not None:
            raise NodeExited(
                f"{self.name} exited with code {self.process.returncode}; log tail:\n"
                + self.log_tail()
            )

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, then SIGKILL the process group. Returns the exit code."""
        if self.process is None:
            return None
        proc = self.process
        if proc.poll() is None:
            self._signal(proc, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %ss: SIGKILL", self.name, timeout)
                self._signal(proc, signal.SIGKILL, group=True)
                proc.wait(10)
        self._signal(proc, signal.SIGKILL, group=True)  # leftover mining workers, if any
        self._reset()
        return proc.returncode

    def kill9(self) -> None:
        """SIGKILL the node and its process group at once (no chance to clean up)."""
        if self.process is None:
            return
        self._signal(self.process, signal.SIGKILL, group=True)
        self.process.wait(10)
        self._reset()

    def restart(self, wait: bool = True, **changes: Any) -> None:
        """Stop (cleanly), apply `changes` (connect=, mining=, extra_args=), start again."""
        self.stop()
        for key, value in changes.items():
            setattr(self, key, value)
        self.start(wait)

    def _reset(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None
        with self.log_path.open("ab") as out:
            code = self.process.returncode if self.process else None
            out.write(f"=== {time.strftime('%H:%M:%S')} stopped (exit code {code})\n".encode())

    @staticmethod
    def _signal(proc: subprocess.Popen[bytes], sig: int, group: bool = False) -> None:
        try:
            if group:
                os.killpg(proc.pid, sig)  # the session we created: pgid == pid
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, chars: int = 6000) -> str:
        return self.log_text()[-chars:]

    def db_files(self) -> list[Path]:
        """SQLite database files in the datadir (by magic header), WAL/SHM files excluded."""
        found = []
        for path in sorted(self.datadir.rglob("*")):
            if not path.is_file() or path.name.endswith(("-wal", "-shm", "-journal")):
                continue
            with path.open("rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    found.append(path)
        return found

    # -- HTTP ---------------------------------------------------------------------------------

    @property
    def http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(base_url=self.api_url, timeout=60)
        return self._client

    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token or self.read_token()}"}

    def call(
        self,
        method: str,
        path: str,
        *,
        admin: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """A raw request to API_PREFIX + path (admin: with the bearer token)."""
        headers = dict(kwargs.pop("headers", {}) or {})
        if admin:
            headers.update(self.admin_headers())
        extra = {"timeout": timeout} if timeout is not None else {}
        return self.http.request(method, API_PREFIX + path, headers=headers, **kwargs, **extra)

    def get(self, path: str, **params: Any) -> Any:
        """GET, the JSON answer; ApiError on a non-2xx status."""
        params = {k: v for k, v in params.items() if v is not None}
        r = self.call("GET", path, params=params)
        if r.status_code >= 300:
            raise ApiError(r.status_code, _body(r), f"{self.name} GET {path}")
        return r.json()

    def post(self, path: str, body: Any, admin: bool = False, timeout: float | None = None) -> Any:
        """POST JSON, the JSON answer; ApiError on a non-2xx status."""
        r = self.call("POST", path, json=body, admin=admin, timeout=timeout)
        if r.status_code >= 300:
            raise ApiError(r.status_code, _body(r), f"{self.name} POST {path}")
        return r.json()

    # -- API helpers ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return dict(self.get("/status"))

    @property
    def height(self) -> int:
        return int(self.status()["height"])

    @property
    def tip(self) -> str:
        return str(self.status()["tip"])

    def mine(self, n: int, address: str) -> list[str]:
        """Mine n blocks to `address` now (admin); the new block hashes."""
        hashes: list[str] = []
        while len(hashes) < n:
            step = min(50, n - len(hashes))
            answer = self.post("/mine", {"blocks": step, "address": address}, True, 300)
            hashes += as_list(answer, "blocks")
        return hashes

    def submit(self, raw_hex: str) -> str:
        """POST /txs; the txid, or ApiError (with `.error` the reason) on rejection."""
        return str(self.post("/txs", {"raw": raw_hex})["txid"])

    def account(self, address: str) -> dict[str, Any]:
        return dict(self.get(f"/accounts/{address}"))

    def account_txs(self, address: str, cursor: str | None = None, limit: int | None = None) -> Any:
        return self.get(f"/accounts/{address}/txs", cursor=cursor, limit=limit)

    def tx(self, txid: str) -> dict[str, Any]:
        return dict(self.get(f"/txs/{txid}"))

    def block(self, block_id: str | int, full: bool = False) -> dict[str, Any]:
        return dict(self.get(f"/blocks/{block_id}", txs="full" if full else None))

    def block_raw(self, block_hash: str) -> bytes:
        answer = self.get(f"/blocks/{block_hash}/raw")
        text = answer if isinstance(answer, str) else answer.get("raw") or answer.get("hex")
        return bytes.fromhex(text)

    def blocks(self, before: int | None = None, limit: int | None = None) -> list[Any]:
        return as_list(self.get("/blocks", before=before, limit=limit), "blocks")

    def mempool(self) -> dict[str, Any]:
        return dict(self.get("/mempool"))

    def mempool_txids(self) -> set[str]:
        return set(self.mempool().get("txids", []))

    def posts(self, before: int | None = None, limit: int | None = None) -> list[Any]:
        return as_list(self.get("/posts", before=before, limit=limit), "posts")

    def peers(self) -> list[dict[str, Any]]:
        return as_list(self.get("/peers"), "peers")

    def connect_to(self, other: NodeProcess) -> Any:
        """POST /peers: ask this node to connect to `other`'s P2P port (admin)."""
        return self.post("/peers", {"address": other.p2p_address}, admin=True)

    def hash_at(self, height: int) -> str | None:
        """The active chain's block hash at `height`, None when the chain is shorter."""
        try:
            return str(self.block(height)["hash"])
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise


# ---------------------------------------------------------------------------------------------
# Wallet


@dataclass
class Wallet:
    """Keys and signing for tests, with powchain.core (the same bytes a real wallet sends)."""

    secret: bytes = field(repr=False)
    params: ChainParams = field(repr=False)

    def __repr__(self) -> str:
        return f"Wallet({self.address})"

    @classmethod
    def new(cls, params: ChainParams, seed: str | None = None) -> Wallet:
        """A fresh key; `seed` makes it deterministic (sha256 of the seed text)."""
        import hashlib

        while True:
            secret = hashlib.sha256(seed.encode()).digest() if seed else os.urandom(32)
            if keys.is_valid_secret(secret):
                return cls(secret, params)
            seed = (seed or "") + "'"

    @property
    def pubkey(self) -> bytes:
        return keys.xonly_pubkey(self.secret)

    @property
    def address(self) -> str:
        return keys.encode_address(self.params.hrp, self.pubkey)

    def sign(self, tx: Transaction) -> Transaction:
        return tx.with_signature(keys.schnorr_sign(self.secret, tx.sighash(), os.urandom(32)))

    def transfer(
        self, to: str, amount: int, nonce: int, fee: int = DEFAULT_FEE, data: bytes = b""
    ) -> Transaction:
        """A signed transfer of `amount` units to address `to` with the given sender nonce."""
        recipient = keys.decode_address(to, self.params.hrp)
        unsigned = Transaction(
            TX_VERSION, self.params.chain_id, nonce, self.pubkey, recipient, amount, fee, data, b""
        )
        return self.sign(unsigned)

    def post(self, text: str, nonce: int, fee: int = DEFAULT_FEE) -> Transaction:
        """A signed post (amount 0, to oneself) of `text`."""
        return self.transfer(self.address, 0, nonce, fee, make_post_data(text))

    def send(
        self, node: NodeProcess, to: str, amount: int, fee: int = DEFAULT_FEE, data: bytes = b""
    ) -> str:
        """Sign with the node's `next_nonce` and submit through `node`; the txid."""
        nonce = int(node.account(self.address)["next_nonce"])
        return node.submit(self.transfer(to, amount, nonce, fee, data).serialize().hex())


def address_of(params: ChainParams, value: str) -> str:
    """An API's account field as an address (accepts an address or 64 hex digits of a key)."""
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value.lower()):
        return keys.encode_address(params.hrp, bytes.fromhex(value))
    return value


# ---------------------------------------------------------------------------------------------
# Synchronization


def sync_blocks(nodes: Sequence[NodeProcess], timeout: float = 60.0) -> str:
    """Wait until every node reports the same tip; that tip."""

    def same_tip() -> str | None:
        tips = {n.tip for n in nodes}
        return tips.pop() if len(tips) == 1 else None

    names = ", ".join(n.name for n in nodes)
    return str(wait_until(same_tip, timeout, 0.2, f"the same tip on {names}"))


def sync_mempools(nodes: Sequence[NodeProcess], timeout: float = 60.0) -> set[str]:
    """Wait until every node's mempool holds the same txids; those txids."""

    def same_mempool() -> tuple[set[str]] | None:
        pools = [frozenset(n.mempool_txids()) for n in nodes]
        return (set(pools[0]),) if len(set(pools)) == 1 else None

    names = ", ".join(n.name for n in nodes)
    return set(wait_until(same_mempool, timeout, 0.2, f"the same mempool on {names}")[0])


def peer_count(node: NodeProcess) -> int:
    return len(node.peers())


def connect_nodes(a: NodeProcess, b: NodeProcess, timeout: float = 30.0) -> None:
    """Connect a to b via POST /peers and wait until each lists one more peer than before."""
    before_a, before_b = peer_count(a), peer_count(b)
    a.connect_to(b)
    wait_until(
        lambda: peer_count(a) > before_a and peer_count(b) > before_b,
        timeout,
        0.1,
        f"{a.name} and {b.name} to see each other as peers",
    )


def wait_for_height(node: NodeProcess, height: int, timeout: float = 60.0) -> None:
    wait_until(lambda: node.height >= height, timeout, 0.2, f"{node.name} at height {height}")


# ---------------------------------------------------------------------------------------------
# Framework (one per test)


class TestFramework:
    """Owns the nodes of one test: creates datadirs under `tmp_path`, stops every process."""

    __test__ = False  # not a pytest test class

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.nodes: list[NodeProcess] = []
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log = log

    def add_node(
        self,
        *,
        network: str = "regtest",
        connect: Iterable[NodeProcess | str] = (),
        mine: bool = False,
        extra_args: Iterable[str] = (),
        start: bool = True,
    ) -> NodeProcess:
        """A new node (started unless start=False) with its own datadir and ports."""
        index = len(self.nodes)
        node = NodeProcess(
            index,
            self.tmp_path / f"node{index}",
            network,
            [p.p2p_address if isinstance(p, NodeProcess) else p for p in connect],
            mine,
            list(extra_args),
        )
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def add_nodes(self, n: int, **kwargs: Any) -> list[NodeProcess]:
        return [self.add_node(**kwargs) for _ in range(n)]

    def wallet(self, seed: str | None = None, network: str = "regtest") -> Wallet:
        return Wallet.new(NETWORKS[network], seed)

    def spawn(self, args: Sequence[str], log_name: str, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start another long-running process (e.g. `powchain devnet`), stopped at teardown."""
        out = (self.tmp_path / log_name).open("ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.update(kwargs.pop("env", {}))
        proc = subprocess.Popen(
            list(args),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            **kwargs,
        )
        out.close()
        self.processes.append(proc)
        return proc

    def shutdown(self) -> None:
        """Stop every node and spawned process; nothing of this test is left running."""
        for node in self.nodes:
            try:
                node.stop()
            except Exception as exc:  # noqa: BLE001 - teardown must reach every node
                log.error("stopping %s failed: %r", node.name, exc)
                node.kill9()
        for proc in self.processes:
            if proc.poll() is None:
                NodeProcess._signal(proc, signal.SIGINT)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(STOP_TIMEOUT)
            NodeProcess._signal(proc, signal.SIGKILL, group=True)
            if proc.poll() is None:
                proc.wait(10)

    def failure_report(self, chars: int = 8000) -> list[tuple[str, str]]:
        """(title, text) sections with each node's log tail, for a failed test's report."""
        sections = []
        for node in self.nodes:
            sections.append((f"{node.name} log ({node.log_path})", node.log_tail(chars)))
        for path in sorted(self.tmp_path.glob("*.log")):
            sections.append((f"{path.name}", path.read_text(errors="replace")[-chars:]))
        return sections


def run_cli(
    args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run `python -m powchain ARGS` to completion; the CompletedProcess (text)."""
    full_env = dict(os.environ, PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "powchain", *args]
    log.info("Run: powchain %s", " ".join(args))
    return subprocess.run(
        cmd, capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )
