"""`python -m bench [--smoke] [--only B1,B3] [--json PATH]`: run the benchmarks, print the
table, write JSON. `--smoke` runs every benchmark at tiny sizes (the table's targets are then
meaningless: `make test` runs it so the harness cannot rot)."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from powchain.node import powsearch

from . import (
    b_api,
    b_connect,
    b_light,
    b_memory,
    b_mempool,
    b_mining,
    b_relay,
    b_stratum,
    b_sync,
    b_validators,
)
from .data import Data
from .harness import Row, not_run, print_table, write_json

SUITES: list[tuple[str, str, Callable[[Data], list[Row]]]] = [
    ("B1,B2", "miner nonce rate", lambda d: b_mining.run(d.smoke)),
    ("B3,B4,B10a", "block connect", b_connect.run),
    ("B6", "REST mempool acceptance", b_api.run),
    ("B9", "node memory", b_memory.run),
    ("B5", "initial sync over loopback", b_sync.run),
    ("B10b", "sync cost growth", b_sync.growth),
    ("B7,B8", "block and transaction relay", b_relay.run),
    ("B11a,B11b", "full-mempool transaction cost", b_mempool.run),
    ("B13k,B13m,B13n,B13s", "nonce kernels and Stratum", lambda d: b_stratum.run(d.smoke)),
    ("B12-4,B12-7,B14", "validator networks", b_validators.run),
    ("B15a,B15b,B15c,B15d", "proofs and the light client", b_light.run),
]
NOT_BUILT: list[tuple[str, str]] = []


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, no meaningful targets")
    parser.add_argument("--only", default="", help="comma-separated names, e.g. B1,B6")
    parser.add_argument("--json", default="test-output/bench.json", type=Path)
    parser.add_argument(
        "--b9-mempool", type=int, default=20_000, help="B9: transactions in the loaded mempool"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    rows: list[Row] = []
    started = time.perf_counter()
    failed = False
    with tempfile.TemporaryDirectory(prefix="powchain-bench-") as tmp:
        data = Data(Path(tmp), args.smoke, b9_mempool=args.b9_mempool)
        for names, what, fn in SUITES:
            if only and not only & set(names.split(",")):
                continue
            t0 = time.perf_counter()
            try:
                rows += fn(data)
            except Exception as exc:  # a failing benchmark is a row, the others still run
                traceback.print_exc()
                rows.append(not_run(names, what, f"failed: {exc!r}"))
                failed = True
            print(f"[{names} done in {time.perf_counter() - t0:.0f} s]", flush=True)
            print_table(rows)  # so far: a partial run still leaves its figures
            write_json(rows, args.json, {"partial": True, "smoke": args.smoke})
    for name, what in NOT_BUILT:
        if not only or name in only:
            rows.append(not_run(name, what, "not built yet (see README, Performance)"))
    print()
    print_table(rows)
    meta = {
        "smoke": args.smoke,
        "seconds": round(time.perf_counter() - started, 1),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "miner_backend": powsearch.backend(),
        "loadavg": os.getloadavg(),
    }
    write_json(rows, args.json, meta)
    print(f"\n{meta['seconds']} s; JSON in {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
