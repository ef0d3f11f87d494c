"""The chain view's picture: the block tree near the tip laid out as rows (heights, newest on
top) and lanes (the active chain in lane 0, each side branch in a lane of its own).

Pure layout over `node.recent_entries(depth)`; the template draws the SVG from these boxes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.hashing import hash_to_hex

__all__ = ["Box", "Edge", "ChainPicture", "layout"]

ROW = 44
LANE = 190
BOX_W = 160
BOX_H = 30
MARGIN = 10


@dataclass(frozen=True, slots=True)
class Box:
    """One block: position, label and state (`active`, `stale`, `headers-only`, `invalid`)."""

    hash: str
    height: int
    x: int
    y: int
    state: str
    linked: bool  # the body is stored: the box links to the block page


@dataclass(frozen=True, slots=True)
class Edge:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass(frozen=True, slots=True)
class ChainPicture:
    boxes: list[Box]
    edges: list[Edge]
    width: int
    height: int
    stale_count: int


def _state(entry: Any, active: bool) -> str:
    if active:
        return "active"
    if entry.is_invalid:
        return "invalid"
    return "stale" if entry.has_data else "headers-only"


def _lanes(items: list[tuple[Any, bool]]) -> dict[bytes, int]:
    """Lane per hash: 0 for the active chain; a side block continues its parent's lane when it
    is the first child placed there, otherwise it opens a new lane."""
    lane: dict[bytes, int] = {}
    lane_end: dict[int, bytes] = {}
    next_lane = 1
    for entry, active in items:  # lowest height first
        if active:
            lane[entry.hash] = 0
            continue
        parent = entry.prev.hash if entry.prev is not None else None
        parent_lane = lane.get(parent) if parent is not None else None
        if parent_lane and lane_end.get(parent_lane) == parent:
            chosen = parent_lane
        else:
            chosen, next_lane = next_lane, next_lane + 1
        lane[entry.hash] = chosen
        lane_end[chosen] = entry.hash
    return lane


def layout(items: list[tuple[Any, bool]]) -> ChainPicture:
    """Boxes and parent edges for `items` (IndexEntry, in_active_chain), lowest height first."""
    if not items:
        return ChainPicture([], [], 0, 0, 0)
    lanes = _lanes(items)
    top = max(e.height for e, _ in items)
    pos: dict[bytes, tuple[int, int]] = {}
    boxes = []
    for entry, active in items:
        x = MARGIN + lanes[entry.hash] * LANE
        y = MARGIN + (top - entry.height) * ROW
        pos[entry.hash] = (x, y)
        state = _state(entry, active)
        boxes.append(Box(hash_to_hex(entry.hash), entry.height, x, y, state, entry.has_data))
    edges = []
    for entry, _ in items:
        if entry.prev is not None and entry.prev.hash in pos:
            px, py = pos[entry.prev.hash]
            x, y = pos[entry.hash]
            edges.append(Edge(px + BOX_W // 2, py, x + BOX_W // 2, y + BOX_H))
    width = MARGIN * 2 + (max(lanes.values()) * LANE) + BOX_W
    height = MARGIN * 2 + (top - min(e.height for e, _ in items)) * ROW + BOX_H
    stale = sum(1 for b in boxes if b.state != "active")
    return ChainPicture(boxes, edges, width, height, stale)
