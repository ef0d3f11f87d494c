"""Figures of the soak scenarios: `record()` appends one row; `python -m tests.soak.report`
prints the table (Markdown) of the last run. Rows go to POWCHAIN_SOAK_REPORT (default
/tmp/powchain-soak-report.jsonl); `make soak` empties it first."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPORT = Path(os.environ.get("POWCHAIN_SOAK_REPORT", "/tmp/powchain-soak-report.jsonl"))


def record(scenario: str, figure: str, target: str, held: bool) -> None:
    """Append one row and print it (visible with pytest -s and in the soak log)."""
    row = {"scenario": scenario, "figure": figure, "target": target, "held": held}
    with REPORT.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"[soak] {scenario}: {figure} (target {target}) invariants held: {held}")


def table() -> str:
    rows = [json.loads(line) for line in REPORT.read_text().splitlines()] if REPORT.exists() else []
    lines = ["| scenario | figure | target | invariants held |", "|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["scenario"]):
        held = "yes" if r["held"] else "NO"
        lines.append(f"| {r['scenario']} | {r['figure']} | {r['target']} | {held} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
    sys.exit(0)
