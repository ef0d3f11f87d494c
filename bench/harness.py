"""The benchmark table: one `Row` per benchmark, printed and written as JSON.

A row holds the measured value, the bound measured in the same run, their ratio and the
target on that ratio. `interleave` alternates measurement and bound so drift hits both.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Row", "interleave", "timed", "print_table", "write_json", "not_run"]


@dataclass
class Row:
    """One benchmark result. `ratio` = value / bound (or bound / value when `lower_is_better`);
    `target` is the ratio it must reach (a maximum when `target_is_max`); None = no target."""

    name: str
    what: str
    value: float
    unit: str
    bound: float | None
    bound_unit: str
    target: float | None
    target_text: str
    target_is_max: bool = False
    note: str = ""
    ratio: float | None = None
    met: bool | None = None

    def __post_init__(self) -> None:
        if self.ratio is None and self.bound:
            self.ratio = self.value / self.bound
        checked = self.ratio if self.ratio is not None else self.value
        if self.target is not None and checked is not None:
            self.met = checked <= self.target if self.target_is_max else checked >= self.target


GROWTH_TARGET = 1.2
"""B10: the per-transaction cost at the larger size may be at most this times the smaller's."""


def growth_row(name: str, what: str, growth: float, note: str) -> Row:
    """A B10 row: `growth` = cost per tx at the larger size / at the smaller, target <= 1.2x."""
    target = f"<= {GROWTH_TARGET}x"
    return Row(name, what, growth, "x", None, "", GROWTH_TARGET, target, True, note)


def not_run(name: str, what: str, reason: str) -> Row:
    """A row for a benchmark that did not produce a figure in this run."""
    return Row(name, what, float("nan"), "", None, "", None, "", note=reason)


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleave(
    measure: Callable[[], float],
    bound: Callable[[], float],
    rounds: int,
    pick: Callable[[list[float]], float] = statistics.median,
) -> tuple[float, float]:
    """`pick` (median, or max for best-of) of `rounds` alternating calls of each (both return a
    rate). Best-of suits rates on shared cores: other load only ever slows a round down."""
    ms, bs = [], []
    for _ in range(rounds):
        bs.append(bound())
        ms.append(measure())
    return pick(ms), pick(bs)


def _fmt(x: float | None) -> str:
    if x is None or x != x:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def print_table(rows: list[Row]) -> str:
    """The table as text (also returned), one line per row plus notes."""
    head = ("#", "what", "value", "bound", "ratio", "target", "met")
    lines = []
    for r in rows:
        met = "-" if r.met is None else ("met" if r.met else "NOT MET")
        lines.append(
            (
                r.name,
                r.what,
                f"{_fmt(r.value)} {r.unit}".strip(),
                f"{_fmt(r.bound)} {r.bound_unit}".strip() if r.bound is not None else "-",
                _fmt(r.ratio),
                r.target_text or "-",
                met,
            )
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines:
        cells = (str(x).ljust(w) for x, w in zip(line, widths, strict=True))
        out.append("| " + " | ".join(cells) + " |")
    notes = [f"{r.name}: {r.note}" for r in rows if r.note]
    text = "\n".join(out + ([""] + notes if notes else []))
    print(text, flush=True)
    return text


def write_json(rows: list[Row], path: Path, meta: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n")
