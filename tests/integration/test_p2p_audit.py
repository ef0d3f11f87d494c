"""Issue 11's sibling audit: every message type of p2p/messages.py (all 14 commands), sent as
junk, oversize, unsolicited and out of order, ends in a ban, a clean ignore or a bounded
answer; never in an unhandled exception (no ERROR log, no `internal-error` disconnect), and
the node keeps serving an honest peer afterwards.

- junk: the command byte and three bytes that parse as nothing;
- oversize: a count one over the codec's limit where the message has one, else the frame
  padded to MAX_MESSAGE_SIZE + 1;
- unsolicited: a well-formed message nobody asked for, after the handshake;
- out of order: the message before the handshake ends (for `version`: a second one before
  `verack`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from powchain.core.block import Block, BlockHeader
from powchain.core.encoding import compact_size
from powchain.core.params import REGTEST, genesis_block
from powchain.p2p import messages as m
from powchain.p2p.peer import MAX_SEND_BYTES
from tests.fakepeer import FakePeer, make_version
from tests.integration.chainbuilder import ALICE, BOB, solve
from tests.integration.test_p2p_network import Net

pytestmark = pytest.mark.timeout(120)

GENESIS = genesis_block(REGTEST)


def orphan_header() -> BlockHeader:
    """A header with valid proof of work whose parent nobody knows."""
    return solve(
        BlockHeader(
            1, secrets.token_bytes(32), bytes(32), GENESIS.header.time + 60, REGTEST.genesis_bits, 0
        )
    )


def orphan_block() -> Block:
    from powchain.core.hashing import merkle_root
    from powchain.core.transaction import Transaction

    coinbase = Transaction.coinbase(REGTEST.chain_id, 7, ALICE.pub, 50, b"")
    header = BlockHeader(
        1,
        secrets.token_bytes(32),
        merkle_root([coinbase.txid]),
        GENESIS.header.time + 60,
        REGTEST.genesis_bits,
        0,
    )
    return Block(solve(header), (coinbase,))


def item(kind: m.InvType) -> m.InvItem:
    return m.InvItem(kind, secrets.token_bytes(32))


VALID: dict[m.Command, Callable[[], Any]] = {
    m.Command.VERSION: lambda: make_version(REGTEST),
    m.Command.VERACK: m.Verack,
    m.Command.PING: lambda: m.Ping(11),
    m.Command.PONG: lambda: m.Pong(12),
    m.Command.GETADDR: m.GetAddr,
    m.Command.ADDR: lambda: m.Addr(
        tuple(m.NetAddress(f"10.9.{i // 250}.{i % 250}", 8333, 1) for i in range(m.MAX_ADDR))
    ),
    m.Command.INV: lambda: m.Inv((item(m.InvType.TX), item(m.InvType.BLOCK))),
    m.Command.GETDATA: lambda: m.GetData((item(m.InvType.TX), item(m.InvType.BLOCK))),
    m.Command.NOTFOUND: lambda: m.NotFound((item(m.InvType.TX), item(m.InvType.BLOCK))),
    m.Command.GETHEADERS: lambda: m.GetHeaders((GENESIS.hash,)),
    m.Command.HEADERS: lambda: m.Headers((orphan_header(),)),
    m.Command.BLOCK: orphan_block,
    m.Command.TX: lambda: m.TxMsg(BOB.transfer(ALICE.pub, 5, nonce=3)),  # unfunded
    m.Command.MEMPOOL: m.MempoolMsg,
}
"""A well-formed instance of every command (the audit fails if a command is missing)."""

COUNT_LIMITS: dict[m.Command, int] = {
    m.Command.ADDR: m.MAX_ADDR,
    m.Command.INV: m.MAX_INV_ITEMS,
    m.Command.GETDATA: m.MAX_INV_ITEMS,
    m.Command.NOTFOUND: m.MAX_INV_ITEMS,
    m.Command.GETHEADERS: m.MAX_LOCATOR,
    m.Command.HEADERS: m.MAX_HEADERS,
}

UNSOLICITED: dict[m.Command, tuple[str, type | None]] = {
    m.Command.VERSION: ("ban", None),  # duplicate-version
    m.Command.VERACK: ("ban", None),
    m.Command.PING: ("answer", m.Pong),
    m.Command.PONG: ("ignore", None),
    m.Command.GETADDR: ("answer", m.Addr),
    m.Command.ADDR: ("ignore", None),
    m.Command.INV: ("answer", m.GetData),  # asks for the unknown tx (and headers for the block)
    m.Command.GETDATA: ("answer", m.NotFound),
    m.Command.NOTFOUND: ("ignore", None),  # nothing was requested
    m.Command.GETHEADERS: ("answer", m.Headers),
    m.Command.HEADERS: ("answer", m.GetHeaders),  # an orphan: ask for the way to it
    m.Command.BLOCK: ("answer", m.GetHeaders),
    m.Command.TX: ("ignore", None),  # invalid against our state: dropped, no ban
    m.Command.MEMPOOL: ("ignore", None),  # an empty pool: nothing to announce
}


def frame(command: m.Command, shape: str) -> bytes:
    head = bytes([command])
    if shape == "junk":
        return head + b"\xff\xfe\xfd"
    if shape == "oversize":
        if command in COUNT_LIMITS:
            return head + compact_size(COUNT_LIMITS[command] + 1) + bytes(64)
        return head + bytes(m.MAX_MESSAGE_SIZE)  # one byte over with the command byte
    message = VALID[command]()
    return head + message.serialize()


CASES = [(c, s) for c in m.Command for s in ("junk", "oversize", "unsolicited", "out-of-order")]


def test_the_audit_covers_every_command() -> None:
    """A new command (issues 14, 15, ...) must join VALID and UNSOLICITED to be audited."""
    missing = set(m.Command) - set(VALID) | set(m.Command) - set(UNSOLICITED)
    assert not missing, f"add {sorted(c.name for c in missing)} to VALID and UNSOLICITED"
    assert len(CASES) == 4 * len(m.Command) >= 4 * 14


@pytest.mark.parametrize(
    ("command", "shape"), CASES, ids=[f"{c.name.lower()}-{s}" for c, s in CASES]
)
def test_every_message_shape_ends_in_a_ban_an_ignore_or_a_bounded_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, command: m.Command, shape: str
) -> None:
    caplog.set_level(logging.WARNING)
    expected, answer = (
        ("ban", None) if shape in ("junk", "oversize", "out-of-order") else (UNSOLICITED[command])
    )

    async def main() -> None:
        net = Net(tmp_path)
        try:
            _, pm = await net.start("a")
            peer = await FakePeer.connect(pm.listen_port)
            if shape == "out-of-order" and command is m.Command.VERSION:
                await peer.send(make_version(REGTEST))
                await peer.wait_for(m.Version)
            elif shape != "out-of-order":
                await peer.handshake(REGTEST, listen_port=42000)
                await peer.wait_for(m.GetHeaders)  # the node's own sync request
            mark = len(peer.received)
            await peer.send_raw(frame(command, shape))
            await peer.send(m.Ping(99))
            replies = await settle(peer)
            outcome = "ban" if replies is None else ("answer" if replies else "ignore")
            assert outcome == expected, f"{command.name} {shape}: {outcome} {replies}"
            if replies is None:
                assert len(pm.ban_list()) == 1 and peer.close_code == 1008
            else:
                assert pm.ban_list() == [] and pm.connected_count() == 1
                kinds = [type(x) for x in replies]
                assert answer is None or answer in kinds, f"{command.name}: {kinds}"
                assert set(kinds) <= {answer, m.GetHeaders}, f"{command.name}: {kinds}"
                size = sum(
                    len(m.encode(x)) for x in peer.received[mark:] if not isinstance(x, bytes)
                )
                assert size <= MAX_SEND_BYTES
            refused = [p["reason"] for p in pm.peer_info() if not p["connected"]]
            assert "internal-error" not in refused
            honest = await FakePeer.connect(pm.listen_port)
            await honest.handshake(REGTEST, listen_port=42001)
            await honest.send(m.Ping(5))
            assert (await honest.wait_for(m.Pong)).nonce == 5
            await honest.close()
            await peer.close()
        finally:
            await net.stop_all()

    asyncio.run(main())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


async def settle(peer: FakePeer) -> list[Any] | None:
    """What the node sent after our message and before the pong to our ping (sent after the
    message), or None when it closed the connection instead."""
    replies: list[Any] = []
    while True:
        message = await peer.recv(timeout=30)
        if message is None:
            return None
        if isinstance(message, m.Pong) and message.nonce == 99:
            return replies
        if not isinstance(message, m.Ping):
            replies.append(message)
