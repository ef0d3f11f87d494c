"""aserti3-2d against the official Bitcoin Cash test vectors (run01..run12), every row.

Each run file has a header (anchor height, anchor parent time, anchor nBits) and rows
`iteration height time bits`: the bits required after a parent at `height` with `time`. The
vectors use Bitcoin Cash mainnet settings: 600 s spacing, a two-day half-life and pow limit
2**224 - 1 (compact 0x1d00ffff, which decodes to the same clamp after compact encoding).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from powchain.consensus.pow import bits_to_target, next_bits_asert, target_to_bits

BCH_SPACING = 600
BCH_HALF_LIFE = 2 * 24 * 3600
BCH_POW_LIMIT = 0x00000000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
RUNS = [f"run{i:02d}" for i in range(1, 13)]
ROWS_PER_RUN = {"run04": 225, "run05": 225, "run06": 1000, "run07": 1000, "run08": 500}
ROWS_PER_RUN |= {"run11": 1000, "run12": 10_000}


@dataclass(frozen=True)
class AsertRun:
    anchor_height: int
    anchor_parent_time: int
    anchor_bits: int
    rows: list[tuple[int, int, int]]  # (parent height, parent time, expected bits)


def load_run(path: Path) -> AsertRun:
    meta: dict[str, str] = {}
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("##") and ":" in line:
            key, value = line[2:].split(":", 1)
            meta[key.strip()] = value.strip()
        elif line.strip() and not line.startswith("#"):
            _, height, time, bits = line.split()
            rows.append((int(height), int(time), int(bits, 16)))
    # older runs say "anchor ancestor time", run11/run12 "anchor parent time": the same field
    parent_time = meta.get("anchor parent time", meta.get("anchor ancestor time"))
    assert parent_time is not None, f"{path.name}: no anchor parent time"
    assert len(rows) == int(meta["iterations"])
    return AsertRun(
        int(meta["anchor height"]), int(parent_time), int(meta["anchor nBits"], 16), rows
    )


@pytest.mark.parametrize("name", RUNS)
def test_aserti3_2d_vector_run(shared: Path, name: str) -> None:
    run = load_run(shared / "vectors" / "aserti3-2d" / name)
    assert len(run.rows) == ROWS_PER_RUN.get(name, 10)
    limit_bits = target_to_bits(BCH_POW_LIMIT)
    mismatches = [
        (height, time, hex(bits), hex(got))
        for height, time, bits in run.rows
        if bits
        != (
            got := next_bits_asert(
                run.anchor_bits,
                run.anchor_parent_time,
                run.anchor_height,
                time,
                height,
                BCH_SPACING,
                BCH_HALF_LIFE,
                limit_bits,
            )
        )
    ]
    assert mismatches == [], f"{name}: {len(mismatches)} rows differ, first {mismatches[:3]}"


def test_compact_pow_limit_clamps_like_the_full_limit() -> None:
    assert target_to_bits(BCH_POW_LIMIT) == 0x1D00FFFF
    assert bits_to_target(0x1D00FFFF) == BCH_POW_LIMIT >> 208 << 208


def test_a_wrong_anchor_is_detected(shared: Path) -> None:
    run = load_run(shared / "vectors" / "aserti3-2d" / "run06")
    height, time, bits = run.rows[500]
    shifted = next_bits_asert(
        run.anchor_bits + 0x100,
        run.anchor_parent_time,
        run.anchor_height,
        time,
        height,
        BCH_SPACING,
        BCH_HALF_LIFE,
        0x1D00FFFF,
    )
    late = next_bits_asert(
        run.anchor_bits,
        run.anchor_parent_time,
        run.anchor_height,
        time + BCH_SPACING,
        height,
        BCH_SPACING,
        BCH_HALF_LIFE,
        0x1D00FFFF,
    )
    assert bits not in (shifted, late)
