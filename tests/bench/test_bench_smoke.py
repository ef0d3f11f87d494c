"""Smoke run of `make bench`: every benchmark at tiny sizes, so the harness cannot rot.

Asserts the table's shape and that each implemented benchmark produced a figure, never on
the figures themselves (timings on shared machines prove nothing in a test).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    *("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9a", "B9b", "B10a", "B10b"),
    *("B13k-portable", "B13m", "B13n", "B13s"),
    *("B12-4", "B12-7", "B12p-4", "B14"),  # validator networks (issue 14)
}
EXPECTED |= {"B15a", "B15b", "B15c", "B15d"}


def test_every_benchmark_runs_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(out.read_text())
    rows = {r["name"]: r for r in report["rows"]}
    assert set(rows) >= EXPECTED
    for name in EXPECTED:
        value = rows[name]["value"]
        assert value == value, (name, rows[name])  # a figure, not the NaN of a failed row
        if name not in ("B7", "B12-4", "B12-7", "B12p-4"):  # minus validation: may be <= 0
            assert value > 0, (name, rows[name])
    for name in ("B1", "B2", "B3", "B4", "B5", "B6"):
        assert rows[name]["bound"] > 0 and rows[name]["ratio"] > 0
    assert report["meta"]["smoke"] is True
    assert "| B3 " in proc.stdout  # the table was printed


def test_unknown_benchmark_name_runs_nothing_but_still_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "B99", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(out.read_text())["rows"] == []
