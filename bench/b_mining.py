"""B1, B2: nonce rate of the miner's search (`powsearch.search_nonce`, the C kernel when built)
against the best kernel's own raw compression loop (`_powkernel.bound_loop`, issue 13; before
it, the one-shot library sha256d loop `sha256d_loop`)."""

from __future__ import annotations

import multiprocessing
import time

from powchain.node import powsearch

from .harness import Row, interleave

HEADER80 = bytes(range(80))


def _search_rate(n: int) -> float:
    start = time.perf_counter()
    powsearch.search_nonce(HEADER80[:76], 0, n, 0)  # target 0: never found, full range runs
    return n / (time.perf_counter() - start)


def _bound_rate(n: int) -> float:
    kernel = powsearch.KERNEL
    start = time.perf_counter()
    if kernel is not None:
        kernel.bound_loop(kernel.backend(), HEADER80[:76], n)
    else:  # no compiler: hashlib stands in (the bound is then not a C loop)
        import hashlib

        for i in range(n):
            hashlib.sha256(hashlib.sha256(HEADER80[:76] + i.to_bytes(4, "little")).digest())
    return n / (time.perf_counter() - start)


def _worker(args: tuple[str, int]) -> float:
    kind, n = args
    return _search_rate(n) if kind == "search" else _bound_rate(n)


def _parallel_rate(pool: multiprocessing.pool.Pool, kind: str, n: int, procs: int) -> float:
    start = time.perf_counter()
    pool.map(_worker, [(kind, n)] * procs, chunksize=1)
    return n * procs / (time.perf_counter() - start)


def run(smoke: bool) -> list[Row]:
    multi = powsearch.backend() in ("c-avx512", "c-sha-ni", "c-avx2")
    n = 20_000 if smoke else 30_000_000 if multi else 3_000_000  # about a second a call
    rounds = 1 if smoke else 3
    backend = powsearch.backend()
    b1, bound1 = interleave(lambda: _search_rate(n), lambda: _bound_rate(n), rounds, max)
    rows = [
        Row(
            "B1",
            f"nonce rate, 1 process ({backend})",
            b1 / 1e6,
            "M/s",
            bound1 / 1e6,
            f"M/s {backend} raw loop",
            0.6,
            ">= 0.6",
        ),
    ]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        pool.map(_worker, [("search", 1000)] * 2)  # warm up both workers
        b2, one = interleave(
            lambda: _parallel_rate(pool, "search", n, 2),
            lambda: _parallel_rate(pool, "search", n, 1),
            rounds,
            max,
        )
    rows.append(
        Row(
            "B2",
            "nonce rate, 2 processes",
            b2 / 1e6,
            "M/s",
            one / 1e6,
            "M/s B1 (1 process)",
            1.8,
            ">= 1.8x",
        )
    )
    return rows
