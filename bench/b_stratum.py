"""B13k, B13m, B13n, B13s (issue 13): the nonce kernels by backend, `powchain miner` through
Stratum, job notify latency to 100 workers, share validation throughput.

B13k rows: each backend's nonce rate on one core (`_powkernel.search_with`) against the best
backend's raw compression loop (`bound_loop`) in the same run. B13m: the nonces per second of a
`MinerClient` (1 worker process) mining through a StratumServer on an in-process node,
against `search_nonce` in one process (target >= 0.95). B13n: after a new tip, the time until
each of 100 connected workers (a separate process reading with selectors, CLOCK_MONOTONIC is
system-wide) has the clean job, p95 (target <= 50 ms). B13s: submits parsed and checked per
second on one core (parse_request, parse_submission, check_share: coinbase rebuilt, branch
folded, header hashed), target >= 5,000/s; the note gives hashlib's rate for the same two
sha256d calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import selectors
import socket
import statistics
import tempfile
import time
from pathlib import Path

from powchain.consensus.pow import target_to_bits
from powchain.core.keys import encode_address, xonly_pubkey
from powchain.core.params import REGTEST, ChainParams
from powchain.node import powsearch
from powchain.node.miner import build_template, solve_in_process
from powchain.node.node import Node, NodeConfig

from .harness import Row

HEADER76 = bytes(range(76))
SECRET = bytes([9]) * 32
PUB = xonly_pubkey(SECRET)


def _hard_params() -> ChainParams:
    """Regtest with blocks at share difficulty 1,000 (never found in a bench run); the
    genesis is not mined (a node does not check the genesis block's own proof of work)."""
    bits = target_to_bits(int(0xFFFF * 2**208 / 1000))
    return dataclasses.replace(REGTEST, genesis_bits=bits, pow_limit_bits=bits, genesis_hash_hex="")


def kernel_rows(smoke: bool) -> list[Row]:
    kernel = powsearch.KERNEL
    if kernel is None:
        return []
    n = 50_000 if smoke else 8_000_000
    names = list(kernel.backends())
    rates: dict[str, float] = {}
    for name in names:
        count = n if name in ("avx512", "sha-ni", "avx2") else n // 4
        best = 0.0
        for _ in range(1 if smoke else 3):
            start = time.perf_counter()
            kernel.search_with(name, HEADER76, 0, count, bytes(32))
            best = max(best, count / (time.perf_counter() - start))
        rates[name] = best
    top = names[0]
    start = time.perf_counter()
    kernel.bound_loop(top, HEADER76, n)
    bound = n / (time.perf_counter() - start)
    rows = []
    for name in names:
        rows.append(
            Row(
                f"B13k-{name}",
                f"kernel nonce rate, 1 core ({name})",
                rates[name] / 1e6,
                "M/s",
                bound / 1e6,
                f"M/s {top} raw loop",
                None,
                "",
                note="issue 13 reference: 24 M/s (AVX-512 cpuminer), 12 M/s SHA-NI, 5-7 M/s AVX2",
            )
        )
    return rows


async def _through_stratum(seconds: float, datadir: Path) -> float:
    from powchain.stratum.client import MinerClient
    from powchain.stratum.server import StratumServer, StratumSettings

    node = Node(
        NodeConfig(params=_hard_params(), datadir=datadir, listen=False, verify_processes=0)
    )
    await node.start()
    server = StratumServer(node, StratumSettings(port=0, min_difficulty=0.05, share_interval=2))
    await server.start()
    client = MinerClient("127.0.0.1", server.port, encode_address("rpow", PUB), processes=1)
    task = asyncio.create_task(client.run())
    try:
        deadline = time.monotonic() + 120
        while client.hashes == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        h0, t0 = client.hashes, time.monotonic()
        await asyncio.sleep(seconds)
        return (client.hashes - h0) / (time.monotonic() - t0)
    finally:
        client.stop()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()
        await node.stop()


def stratum_ratio_row(smoke: bool) -> Row:
    seconds = 2.0 if smoke else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        through = asyncio.run(_through_stratum(seconds, Path(tmp)))
    n = 50_000 if smoke else 200_000_000 if powsearch.backend() == "c-avx512" else 50_000_000
    start = time.perf_counter()
    powsearch.search_nonce(HEADER76, 0, n, 0)
    local = n / (time.perf_counter() - start)
    return Row(
        "B13m",
        f"powchain miner through Stratum ({powsearch.backend()}, 1 process)",
        through / 1e6,
        "M/s",
        local / 1e6,
        "M/s search_nonce in-process",
        0.95,
        ">= 0.95",
    )


def _workers(port: int, count: int, ready: object, out: object) -> None:
    """100 Stratum workers in one process: subscribe, authorize, then record when each sees a
    clean_jobs notify (monotonic seconds)."""
    address = encode_address("rpow", PUB)
    sel = selectors.DefaultSelector()
    socks, buffers, seen = [], {}, {}
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        lines = [
            {"id": 1, "method": "mining.subscribe", "params": []},
            {"id": 2, "method": "mining.authorize", "params": [address, "x"]},
        ]
        s.sendall("".join(json.dumps(x) + "\n" for x in lines).encode())
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        socks.append(s)
        buffers[i] = b""
        seen[i] = 0
    got: dict[int, float] = {}
    ready.set()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 120
    while len(got) < count and time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            i = key.data
            data = key.fileobj.recv(65536)  # type: ignore[union-attr]
            now = time.monotonic()
            buffers[i] += data
            while b"\n" in buffers[i]:
                line, _, buffers[i] = buffers[i].partition(b"\n")
                msg = json.loads(line)
                if msg.get("method") == "mining.notify":
                    seen[i] += 1
                    if seen[i] >= 2 and msg["params"][8] is True and i not in got:
                        got[i] = now
    out.put(list(got.values()))  # type: ignore[attr-defined]


async def _notify_latency(count: int, datadir: Path) -> list[float]:
    from powchain.stratum.server import StratumServer, StratumSettings

    node = Node(NodeConfig(params=REGTEST, datadir=datadir, listen=False, verify_processes=0))
    await node.start()
    server = StratumServer(node, StratumSettings(port=0))
    await server.start()
    ctx = multiprocessing.get_context("spawn")
    ready, out = ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=_workers, args=(server.port, count, ready, out))
    proc.start()
    try:
        while not ready.is_set() or sum(1 for c in server.connections if c.sent_difficulty) < count:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        block = solve_in_process(build_template(node, PUB), REGTEST)
        assert block is not None
        t0 = time.monotonic()
        node.process_block(block)
        times: list[float] = await asyncio.to_thread(out.get, True, 120)
        return [t - t0 for t in times]
    finally:
        proc.join(10)
        await server.stop()
        await node.stop()


def notify_latency_row(smoke: bool) -> Row:
    count = 20 if smoke else 100
    with tempfile.TemporaryDirectory() as tmp:
        delays = sorted(asyncio.run(_notify_latency(count, Path(tmp))))
    p95 = delays[min(len(delays) - 1, int(0.95 * len(delays)))] * 1000 if delays else float("nan")
    median = statistics.median(delays) * 1000 if delays else float("nan")
    return Row(
        "B13n",
        f"job notify latency after a new tip, p95 of {count} workers",
        p95,
        "ms",
        None,
        "",
        50.0,
        "<= 50 ms",
        target_is_max=True,
        note=f"median {median:.1f} ms, {len(delays)} of {count} workers got the clean job",
    )


def share_validation_row(smoke: bool) -> Row:
    from powchain.stratum.jobs import make_job
    from powchain.stratum.protocol import difficulty_to_target, parse_request
    from powchain.stratum.share import StratumError, check_share, parse_submission

    n = 2_000 if smoke else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        node = Node(NodeConfig(params=_hard_params(), datadir=Path(tmp), verify_processes=0))
        node.open()
        try:
            job = make_job(node, "00000001", time.monotonic())
            max_time = node.now() + 7000
            target = difficulty_to_target(1.0)
            lines = [
                json.dumps(
                    {
                        "id": i,
                        "method": "mining.submit",
                        "params": ["w", "00000001", f"{i:016x}", f"{job.time:08x}", f"{i:08x}"],
                    }
                ).encode()
                for i in range(n)
            ]
            start = time.perf_counter()
            for line in lines:
                sub = parse_submission(parse_request(line).params)
                with contextlib.suppress(StratumError):  # low difficulty: the full check ran
                    check_share(job, sub, b"\0\0\0\1", PUB, target, max_time)
            rate = n / (time.perf_counter() - start)
        finally:
            node.close()
    raw = b"x" * 84
    start = time.perf_counter()
    for _ in range(n):
        hashlib.sha256(hashlib.sha256(raw).digest()).digest()
        hashlib.sha256(hashlib.sha256(raw[:80]).digest()).digest()
    hashing = n / (time.perf_counter() - start)
    return Row(
        "B13s",
        "share validation throughput, 1 core",
        rate,
        "shares/s",
        None,
        "",
        5000.0,
        ">= 5,000/s",
        note=f"hashlib alone does the two sha256d of a share at {hashing:,.0f}/s",
    )


def run(smoke: bool) -> list[Row]:
    rows = kernel_rows(smoke)
    rows.append(stratum_ratio_row(smoke))
    rows.append(notify_latency_row(smoke))
    rows.append(share_validation_row(smoke))
    return rows
