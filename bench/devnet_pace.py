"""`python -m bench.devnet_pace [--hashrate F] [--seconds 300]`: the pace of `make run` (issue 10).

Starts what `make run` starts (`powchain devnet --nodes 3 --traffic`) in a fresh data
directory with $POWCHAIN_TEST_HASHRATE = F (below 1: the miners' nonce-rate limit; above 1: a
devnet genesis F times easier, i.e. a machine F times as fast as far as the difficulty rule can
tell), lets it run, and prints the average block spacing of the blocks dated in minutes 2 to 5
after the start (target: 10 s +- 40 %), with the nonce rate the miners measured. Not a test:
it takes minutes, and one Poisson sample of ~18 blocks is what it measures.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

API_LINE = re.compile(r"node(\d+): explorer/API (http://127\.0\.0\.1:\d+)/")
FIRST, LAST = 120, 300


def _urls(log: Path, proc: subprocess.Popen[bytes]) -> list[str]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = dict(API_LINE.findall(log.read_text(errors="replace")))
        if len(found) == 3:
            return [found[k] for k in sorted(found)]
        if proc.poll() is not None:
            raise SystemExit(f"devnet exited:\n{log.read_text()}")
        time.sleep(0.5)
    raise SystemExit("the devnet printed no API addresses within 120 s")


def _blocks(url: str) -> list[tuple[int, int, int]]:
    """(height, time, bits) of every active-chain block after genesis."""
    tip = httpx.get(f"{url}/api/v1/status", timeout=10).json()["height"]
    out = []
    for height in range(1, tip + 1):
        block = httpx.get(f"{url}/api/v1/blocks/{height}", timeout=10).json()
        out.append((height, int(block["time"]), int(block["bits"], 16)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hashrate", default="1", help="$POWCHAIN_TEST_HASHRATE [1]")
    parser.add_argument("--seconds", type=int, default=LAST + 10)
    args = parser.parse_args()
    env = {**os.environ, "POWCHAIN_TEST_HASHRATE": args.hashrate}
    with tempfile.TemporaryDirectory(prefix="devnet-pace-") as tmp:
        log = Path(tmp) / "devnet.log"
        command = [sys.executable, "-m", "powchain", "devnet", "--nodes", "3", "--traffic"]
        start = time.time()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*command, "--datadir", str(Path(tmp) / "d")], stdout=out, stderr=out, env=env
            )
        try:
            urls = _urls(log, proc)
            time.sleep(max(0.0, start + args.seconds - time.time()))
            blocks = _blocks(urls[0])
            metrics = httpx.get(f"{urls[0]}/api/v1/status", timeout=10).json()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    window = [b for b in blocks if start + FIRST <= b[1] <= start + LAST]
    rate = metrics.get("miner_hashrate")
    print(f"POWCHAIN_TEST_HASHRATE={args.hashrate}: {len(blocks)} blocks in {args.seconds} s")
    print(f"node0 miner {rate / 1e6 if rate else 0:.2f} M nonces/s (of 3 miners)")
    print(f"network estimate {(metrics.get('network_hashrate') or 0) / 1e6:.2f} MH/s")
    if len(window) >= 2:
        spacing = (window[-1][1] - window[0][1]) / (len(window) - 1)
        verdict = "within" if 6 <= spacing <= 14 else "OUTSIDE"
        print(
            f"minutes 2-5: {len(window)} blocks, average spacing {spacing:.1f} s "
            f"({verdict} 10 s +- 40 %)"
        )
    else:
        print(f"minutes 2-5: {len(window)} blocks (too few to average)")


if __name__ == "__main__":
    main()
