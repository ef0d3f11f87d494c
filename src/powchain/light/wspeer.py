"""A getheaders-only light peer over the peer-to-peer protocol (SPEC §6), as a header source.

`WsSource("host:port", params)` dials a node's P2P port like any peer: the same handshake
(version, verack; `best_height` 0, `listen_port` 0, user agent `/powchain-light:VERSION/`),
then only `getheaders` with the light chain's locator (Core: a headers-first client without
blocks). The node serves it as it serves any peer; the light peer answers `ping` with `pong`
and the node's own `getheaders` with an empty `headers` (it has no blocks to offer), and
ignores the rest (inv, addr). Every frame is bounded by the protocol's MAX_MESSAGE_SIZE and
decoded by `p2p.messages` (a pure codec: the one p2p module light may import).

`pull(chain)` (used by `sync.follow`) asks for headers after the locator until an answer has
fewer than 2,000, offering them to the chain; where the node's chain leaves ours is the
parent of the first header it sends.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import Any

import powchain.p2p.messages as m  # the pure wire codec (see the layering test)

from .. import __version__
from ..core.block import BlockHeader
from ..core.params import ChainParams, genesis_block
from .headerchain import HeaderChain
from .sync import MAX_BRANCH_HEADERS, SourceError

__all__ = ["WsSource", "USER_AGENT"]

USER_AGENT = f"/powchain-light:{__version__}/"
MAX_FRAMES_PER_ANSWER = 100
"""Frames read while waiting for one answer before giving up (pings, invs in between)."""


class WsSource:
    """A node's P2P address `host:port`, dialed on first use; `close()` ends the connection."""

    def __init__(self, address: str, params: ChainParams, timeout: float = 30.0) -> None:
        self.name = f"ws://{address}"
        self.params = params
        self.timeout = timeout
        self._ws: Any = None
        self._stack = contextlib.ExitStack()
        self._genesis = genesis_block(params).hash

    # -- connection ----------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._ws is not None:
            return self._ws
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        stack = contextlib.ExitStack()
        try:
            ws = stack.enter_context(
                connect(self.name + "/", max_size=m.MAX_MESSAGE_SIZE, open_timeout=self.timeout)
            )
        except (OSError, TimeoutError, ValueError, WebSocketException) as exc:
            raise SourceError(f"{self.name}: {exc}") from exc
        self._stack = stack
        version = m.Version(
            protocol_version=m.PROTOCOL_VERSION,
            network=self.params.name,
            magic=self.params.magic,
            chain_id=self.params.chain_id,
            genesis=self._genesis,
            best_height=0,
            user_agent=USER_AGENT,
            listen_port=0,
            nonce=secrets.randbits(64),
        )
        self._ws = ws
        self._send(version)
        theirs = self._expect(m.Version)
        if theirs.genesis != self._genesis or theirs.chain_id != self.params.chain_id:
            self.close()
            raise SourceError(f"{self.name}: another network ({theirs.network})")
        self._send(m.Verack())
        self._expect(m.Verack)
        return ws

    def close(self) -> None:
        if self._ws is not None:
            self._ws = None
            self._stack.close()

    def _send(self, message: Any) -> None:
        try:
            self._ws.send(m.encode(message))
        except Exception as exc:  # websockets raises ConnectionClosed and OSError subclasses
            raise SourceError(f"{self.name}: {exc}") from exc

    def _expect(self, kind: type) -> Any:
        """The next message of type `kind`, answering pings and getheaders on the way."""
        from websockets.exceptions import WebSocketException

        for _ in range(MAX_FRAMES_PER_ANSWER):
            try:
                frame = self._ws.recv(timeout=self.timeout)
            except (WebSocketException, OSError, TimeoutError) as exc:
                raise SourceError(f"{self.name}: {exc}") from exc
            if not isinstance(frame, bytes):
                raise SourceError(f"{self.name}: a text frame")
            message = m.decode(frame)  # ParseError: a broken peer (follow reports it)
            if isinstance(message, kind):
                return message
            self._answer(message)
        raise SourceError(f"{self.name}: no {kind.__name__} in {MAX_FRAMES_PER_ANSWER} frames")

    # -- as a header source --------------------------------------------------------------

    def _drain(self) -> None:
        """Handle what the node sent unasked (announcements, pings) before a new request."""
        from websockets.exceptions import WebSocketException

        for _ in range(MAX_FRAMES_PER_ANSWER):
            try:
                frame = self._ws.recv(timeout=0)
            except TimeoutError:
                return
            except (WebSocketException, OSError) as exc:
                raise SourceError(f"{self.name}: {exc}") from exc
            if isinstance(frame, bytes):
                self._answer(m.decode(frame))

    def _answer(self, message: Any) -> None:
        if isinstance(message, m.Ping):
            self._send(m.Pong(message.nonce))
        elif isinstance(message, m.GetHeaders):
            self._send(m.Headers(()))

    def _headers_after(self, locator: list[bytes], attaches: Any) -> list[BlockHeader]:
        """The answer to getheaders(locator): the first `headers` whose first header's parent
        satisfies `attaches` (a new-block announcement that raced in is skipped)."""
        self._connect()
        self._drain()
        self._send(m.GetHeaders(tuple(locator[: m.MAX_LOCATOR])))
        for _ in range(MAX_FRAMES_PER_ANSWER):
            headers = list(self._expect(m.Headers).headers)
            if not headers or attaches(headers[0].prev_block):
                return headers
        raise SourceError(f"{self.name}: no answer to getheaders")

    def pull(self, chain: HeaderChain) -> tuple[int, bytes, int, int]:
        """Sync `chain` from this peer: (its tip height, tip hash, fork height, reorgs).

        An answer that extends our tip is checked and kept at once; a competing branch is
        collected (at most MAX_BRANCH_HEADERS) and offered whole, so it wins only on work.
        """
        on_chain = chain.height_of
        batch = self._headers_after(chain.locator(), lambda prev: on_chain(prev) is not None)
        if not batch:
            return chain.height, chain.tip_hash, chain.height, 0
        fork = chain.height_of(batch[0].prev_block)
        if fork is None:
            raise SourceError(f"{self.name}: headers that do not attach to our chain")
        start, pending, last = fork, [], batch[-1]
        while batch:
            last = batch[-1]
            if not pending and fork == chain.height:
                chain.offer(fork, batch)  # extends our tip: raises Rejected on a bad header
                fork = chain.height
            else:
                pending.extend(batch)
                if len(pending) > MAX_BRANCH_HEADERS:
                    raise SourceError(
                        f"{self.name}: a competing branch of over {MAX_BRANCH_HEADERS}"
                    )
            if len(batch) < m.MAX_HEADERS:
                break
            batch = self._headers_after([last.hash, *chain.locator()], last.hash.__eq__)
        reorgs = 0
        if pending:
            reorgs = int(chain.offer(fork, pending).reorg_depth > 0)
        height = chain.height_of(last.hash)
        return (fork + len(pending) if height is None else height), last.hash, start, reorgs

    def fork_height(self, chain: HeaderChain) -> int | None:
        """Where this peer's chain leaves `chain` now (None when it sends nothing new)."""
        on_chain = chain.height_of
        answer = self._headers_after(chain.locator(), lambda prev: on_chain(prev) is not None)
        return None if not answer else chain.height_of(answer[0].prev_block)
