"""Following the most-work header chain of one or more nodes, and saying where they disagree.

A `HeaderSource` is anything with `name`, `tip() -> (height, hash)` and `headers(start,
count) -> list[BlockHeader]` (active-chain headers from height `start`, at most 2,000):
`HttpSource` asks a node's REST API (`GET /api/v1/status`, `GET /api/v1/headers`).
`light.wspeer.WsSource` asks over the peer-to-peer protocol instead: it has
`pull(chain)` (getheaders with our locator) and `fork_height(chain)`, which `follow` uses
in place of the height-based walk.

`follow(chain, sources)` syncs from each source in turn: it finds the highest height where the
source's chain and ours agree (walking back 2,000 headers a step), downloads the source's
headers above it and `offer`s them to the `HeaderChain`, which checks every header and keeps
the branch with the most work. Then every source is classified against the final best chain
(`SourceState.status`):

- `agrees`: its tip is our tip; `behind`: its tip is an ancestor of our tip;
- `disagrees`: its tip is not on our best chain (a fork with less work than ours);
- `invalid`: it served headers that fail a check (the first failure's reason);
- `unreachable`: no answer, or an answer that is not headers.

Nothing is resolved silently: `SyncReport.disagreements` lists every source that is not
`agrees`/`behind`, and the command line prints them.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..consensus.errors import Rejected
from ..core.block import HEADER_SIZE, BlockHeader
from ..core.encoding import ParseError
from ..core.hashing import hash_to_hex, hex_to_hash
from .headerchain import HeaderChain

__all__ = [
    "HeaderSource",
    "HttpSource",
    "SourceError",
    "SourceState",
    "SyncReport",
    "follow",
    "BATCH",
    "MAX_BRANCH_HEADERS",
]

BATCH = 2_000
MAX_STATUS_BYTES = 64 * 1024
MAX_BRANCH_HEADERS = 1_000_000
"""Most headers of a competing branch held in memory before it is checked (80 MB)."""


class SourceError(Exception):
    """A source did not answer, or answered something that is not what was asked."""


class HeaderSource(Protocol):
    name: str

    def tip(self) -> tuple[int, bytes]: ...

    def headers(self, start: int, count: int) -> list[BlockHeader]: ...


class HttpSource:
    """A node's REST API at `url` (e.g. http://127.0.0.1:18745). `client`: an httpx.Client
    (injectable for tests); every answer is read only up to its bound (64 KiB for the
    status, 80 bytes a header asked for) and size-checked before it is parsed."""

    def __init__(self, url: str, client: Any = None, timeout: float = 30.0) -> None:
        import httpx

        self.name = url.rstrip("/")
        self._http = client or httpx.Client(base_url=self.name, timeout=timeout)
        self._errors: tuple[type[BaseException], ...] = (httpx.HTTPError, ValueError, KeyError)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, limit: int, **params: Any) -> bytes:
        """The body of GET /api/v1`path`, read up to `limit` bytes (more is an error)."""
        try:
            with self._http.stream("GET", "/api/v1" + path, params=params) as response:
                if response.status_code != 200:
                    raise SourceError(f"{self.name}: {path} answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise SourceError(f"{self.name}: {path} answered over {limit} bytes")
                return bytes(body)
        except self._errors as exc:
            raise SourceError(f"{self.name}: {exc}") from exc

    def tip(self) -> tuple[int, bytes]:
        try:
            body = json.loads(self._get("/status", MAX_STATUS_BYTES))
            return int(body["height"]), hex_to_hash(str(body["tip"]))
        except self._errors + (TypeError,) as exc:
            raise SourceError(f"{self.name}: /status is not a node's status: {exc}") from exc

    def headers(self, start: int, count: int) -> list[BlockHeader]:
        count = max(1, min(count, BATCH))
        params = {"from": start, "count": count, "format": "bin"}
        raw = self._get("/headers", count * HEADER_SIZE, **params)
        if len(raw) % HEADER_SIZE:
            raise SourceError(f"{self.name}: /headers answered {len(raw)} bytes")
        return [BlockHeader.parse(raw[i : i + HEADER_SIZE]) for i in range(0, len(raw), 80)]


@dataclass
class SourceState:
    """One source after a sync: `status` (see the module docstring), its tip, the height
    where its chain leaves ours (`fork_height`), and `detail` for people."""

    name: str
    status: str = "unreachable"
    height: int | None = None
    tip: bytes | None = None
    fork_height: int | None = None
    detail: str = ""

    def describe(self) -> str:
        tip = f"tip {self.height} {hash_to_hex(self.tip)}" if self.tip is not None else "no tip"
        return f"{self.name}: {self.status} ({tip}){': ' + self.detail if self.detail else ''}"


@dataclass
class SyncReport:
    sources: list[SourceState] = field(default_factory=list)
    reorgs: int = 0
    new_headers: int = 0

    @property
    def agreeing(self) -> list[SourceState]:
        return [s for s in self.sources if s.status in ("agrees", "behind")]

    @property
    def disagreements(self) -> list[SourceState]:
        return [s for s in self.sources if s.status not in ("agrees", "behind")]


def find_fork(chain: HeaderChain, source: HeaderSource, tip_height: int) -> int:
    """Highest height at which `source`'s chain has our header; SourceError when not even
    genesis matches (another network)."""
    top = min(chain.height, tip_height)
    while top >= 0:
        start = max(0, top - BATCH + 1)
        window = source.headers(start, top - start + 1)
        if not window:
            raise SourceError(f"{source.name}: no headers at {start}..{top}")
        for offset in range(min(len(window), top - start + 1) - 1, -1, -1):
            if window[offset].hash == chain.hash_at(start + offset):
                return start + offset
        top = start - 1
    raise SourceError(f"{source.name}: its genesis is not ours (another network)")


def _download(source: HeaderSource, chain: HeaderChain, fork: int, tip_height: int) -> int:
    """Fetch the source's headers above `fork` and offer them; the number of reorgs."""
    reorgs = 0
    pending: list[BlockHeader] = []
    next_height = fork + 1
    while next_height <= tip_height:
        batch = source.headers(next_height, min(BATCH, tip_height - next_height + 1))
        if not batch:
            break
        next_height += len(batch)
        if fork == chain.height and not pending:
            outcome = chain.offer(fork, batch)  # extends our tip: check and keep as we go
            reorgs += outcome.reorg_depth > 0
            fork = chain.height if outcome.accepted else fork
            if not outcome.accepted:
                pending = list(batch)
            continue
        pending.extend(batch)
        if len(pending) > MAX_BRANCH_HEADERS:
            raise SourceError(f"{source.name}: a competing branch of over {MAX_BRANCH_HEADERS}")
    if pending:
        outcome = chain.offer(fork, pending)
        reorgs += outcome.reorg_depth > 0
    return reorgs


def follow(chain: HeaderChain, sources: Sequence[HeaderSource]) -> SyncReport:
    """Sync `chain` from every source, then classify each (see the module docstring)."""
    report = SyncReport()
    states = []
    start_height = chain.height
    for source in sources:
        state = SourceState(source.name)
        states.append(state)
        try:
            pull = getattr(source, "pull", None)  # a P2P source syncs by locator
            if pull is not None:
                state.height, state.tip, state.fork_height, reorgs = pull(chain)
                report.reorgs += reorgs
            else:
                state.height, state.tip = source.tip()
                state.fork_height = find_fork(chain, source, state.height)
                report.reorgs += _download(source, chain, state.fork_height, state.height)
        except Rejected as exc:
            state.status, state.detail = "invalid", f"{exc.reason}: {exc.message or exc}"
        except (SourceError, ParseError) as exc:
            state.status, state.detail = "unreachable", str(exc)
        else:
            state.status = ""
    report.new_headers = max(0, chain.height - start_height)
    for source, state in zip(sources, states, strict=True):
        if state.status:
            continue
        height = None if state.tip is None else chain.height_of(state.tip)
        if height == chain.height:
            state.status = "agrees"
        elif height is not None:
            state.status = "behind"
            state.detail = f"{chain.height - height} block(s) behind the best chain"
        else:
            state.status = "disagrees"
            # where it leaves the final best chain (a later source may have reorged us)
            with contextlib.suppress(SourceError, ParseError):
                locate = getattr(source, "fork_height", None)
                fork = locate(chain) if locate else find_fork(chain, source, state.height or 0)
                state.fork_height = state.fork_height if fork is None else fork
            state.detail = (
                f"its chain leaves the best chain after height {state.fork_height} "
                f"and has less work"
            )
    report.sources = states
    return report
