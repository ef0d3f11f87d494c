"""B15: proofs and the light client (issue 15).

- B15a proof generation: `merkle_branch` for a block of 1,024 txids, per second, against the
  bound of hashing the same tree once (`merkle_root`): a branch is that work plus bookkeeping.
- B15b proof verification: `verify_tx_proof` (fold, 64-byte inner-node checks, header place)
  per second, against the bound of the same number of bare sha256d calls.
- B15c header sync: a light client (`light.sync.follow` over HTTP) pulling every header of a
  local node process, headers/s, against the bound of `HeaderChain.offer` of the same headers
  in this process (the checks alone, no network).
- B15d header file: SQLite bytes for 100,000 headers (packed store), against 80 bytes a header.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from powchain.consensus.pow import bits_to_target
from powchain.core.block import BlockHeader
from powchain.core.hashing import merkle_branch, merkle_root, sha256d
from powchain.core.params import REGTEST, genesis_block
from powchain.light.headerchain import HeaderChain
from powchain.light.proof import TxProof, verify_tx_proof
from powchain.light.store import HeaderStore
from powchain.light.sync import HttpSource, follow

from .chain import ChainMaker
from .data import Data
from .harness import Row, interleave
from .proc import NodeProc

TXS = 1_024


def _headers(n: int, root: bytes = bytes(32)) -> list[BlockHeader]:
    """Genesis and n solved regtest headers (fixed bits: a couple of hashes each)."""
    out = [genesis_block(REGTEST).header]
    target = bits_to_target(REGTEST.genesis_bits)
    for _ in range(n):
        parent = out[-1]
        nonce = 0
        while True:
            header = BlockHeader(1, parent.hash, root, parent.time + 600, parent.bits, nonce)
            if int.from_bytes(header.hash, "little") <= target:
                break
            nonce += 1
        out.append(header)
    return out


def _rate(fn: object, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)  # type: ignore[operator]
    return n / (time.perf_counter() - start)


def proofs(data: Data) -> list[Row]:
    txids = [hashlib.sha256(i.to_bytes(4, "little")).digest() for i in range(TXS)]
    n = 20 if data.smoke else 300
    gen, root_rate = interleave(
        lambda: _rate(lambda i: merkle_branch(txids, i % TXS), n),
        lambda: _rate(lambda i: merkle_root(txids), n),
        3,
        max,
    )
    headers = _headers(12, merkle_root(txids))
    chain = HeaderChain(REGTEST, now=lambda: headers[-1].time)
    chain.offer(0, headers[1:])
    block = headers[3]
    made = [
        TxProof(txids[i], block.hash, 3, i, tuple(merkle_branch(txids, i)), block)
        for i in range(64)
    ]
    depth = len(made[0].branch)
    pair = bytes(64)
    m = 200 if data.smoke else 5_000
    ver, hash_rate = interleave(
        lambda: _rate(lambda i: verify_tx_proof(made[i % 64], chain), m),
        lambda: _rate(lambda i: [sha256d(pair) for _ in range(depth + 1)], m),
        3,
        max,
    )
    return [
        Row(
            "B15a",
            f"proof generation ({TXS}-tx block)",
            gen,
            "proofs/s",
            root_rate,
            "roots/s",
            0.5,
            ">= 0.5x",
            note="bound: one merkle_root of the same block",
        ),
        Row(
            "B15b",
            "proof verification",
            ver,
            "proofs/s",
            hash_rate,
            f"{depth + 1} sha256d/s",
            0.1,
            ">= 0.1x",
            note="bound: the fold's sha256d calls alone",
        ),
    ]


def header_sync(data: Data) -> list[Row]:
    blocks = 200 if data.smoke else 5_000
    datadir = data.root / "b15-node"
    maker = ChainMaker(datadir)
    maker.coinbases(blocks)
    maker.close()
    node = NodeProc(datadir)
    try:
        fetched: list[float] = []

        def over_http() -> float:
            chain = HeaderChain(REGTEST)
            source = HttpSource(node.url)
            start = time.perf_counter()
            report = follow(chain, [source])
            seconds = time.perf_counter() - start
            source.close()
            if chain.height != blocks or report.sources[0].status != "agrees":
                raise RuntimeError(f"light sync reached {chain.height} of {blocks}")
            fetched.append(seconds)
            over_http.headers = chain.headers  # type: ignore[attr-defined]
            return blocks / seconds

        over_http()
        raw = [h.serialize() for h in over_http.headers[1:]]  # type: ignore[attr-defined]

        def in_process() -> float:
            """Parse and check the same bytes (fresh objects: no cached hashes)."""
            chain = HeaderChain(REGTEST)
            start = time.perf_counter()
            chain.offer(0, [BlockHeader.parse(r) for r in raw])
            return blocks / (time.perf_counter() - start)

        rate, bound = interleave(over_http, in_process, 3, max)
    finally:
        node.stop()
    return [
        Row(
            "B15c",
            "light client header sync (HTTP, local node)",
            rate,
            "headers/s",
            bound,
            "headers/s parsed+checked in-process",
            0.3,
            ">= 0.3x",
            note=f"{blocks} headers; bound: parse + HeaderChain.offer of the same bytes",
        ),
    ]


def header_file(data: Data) -> list[Row]:
    n = 100_000
    headers = _headers(5_000 if data.smoke else n)
    path = data.root / "b15-headers.sqlite"
    store = HeaderStore(Path(path))
    store.check_network(headers[0].hash)
    store.save(headers, 0)
    size = store.size_bytes() * n / (len(headers) - 1)
    store.close()
    raw = 80 * n
    return [
        Row(
            "B15d",
            "light header file per 100,000 headers",
            size / 1e6,
            "MB",
            raw / 1e6,
            "MB (80 B a header)",
            0.75,
            "<= 0.75x",
            True,
            note="packed chunks (prev hash implied)"
            + (" (smoke: scaled from 5,000)" if data.smoke else ""),
            ratio=size / raw,
        ),
    ]


def run(data: Data) -> list[Row]:
    return proofs(data) + header_file(data) + header_sync(data)
