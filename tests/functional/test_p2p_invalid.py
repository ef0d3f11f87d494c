"""p2p_invalid: a scripted peer misbehaves six ways; each time the node bans it (SPEC §6).

A fake peer (tests/fakepeer.py) completes the handshake, then sends one of: a header with bad
proof of work, a block with a bad merkle root, a block whose transfer reuses a spent nonce, a
block with a wrong bits value, a message over 4 MiB, garbage bytes. Each time the node logs the
reason, closes the connection and bans the peer: a reconnect of the same peer (its listen port
and version nonce: on loopback that is what a ban names, p2p/addrman.py) is refused. The node
stays up on its tip and still serves an honest peer.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from powchain.consensus.pow import bits_to_target
from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import hex_to_hash, merkle_root, sha256
from powchain.core.params import REGTEST, genesis_block
from powchain.core.transaction import Transaction
from powchain.core.units import COIN
from powchain.p2p import messages as m
from tests.fakepeer import FakePeer

from .framework import NodeProcess, TestFramework, Wallet, free_port, log, wait_until

pytestmark = [pytest.mark.functional, pytest.mark.timeout(120)]

FEE = 10_000


@dataclass
class Tip:
    """What a block on top of the node's tip needs: parent hash, height, time, a payee."""

    prev: bytes
    height: int
    time: int
    payee: bytes


def grind(header: BlockHeader, valid: bool) -> BlockHeader:
    """The header with a nonce whose hash meets (valid) or misses (not valid) its own target."""
    target = bits_to_target(header.bits)
    for nonce in range(1_000_000):
        candidate = header.with_nonce(nonce)
        meets = int.from_bytes(candidate.hash, "little") <= target
        if meets == valid:
            return candidate
    raise AssertionError("no nonce found")


def make_block(
    tip: Tip,
    txs: tuple[Transaction, ...] = (),
    bits: int = REGTEST.pow_limit_bits,
    bad_merkle: bool = False,
    valid_pow: bool = True,
) -> Block:
    """A block on `tip` paying subsidy + fees to tip.payee, solved unless valid_pow=False."""
    fees = sum(tx.fee for tx in txs)
    coinbase = Transaction.coinbase(REGTEST.chain_id, tip.height + 1, tip.payee, 50 * COIN + fees)
    all_txs = (coinbase, *txs)
    root = sha256(b"not the merkle root") if bad_merkle else merkle_root([t.txid for t in all_txs])
    header = BlockHeader(1, tip.prev, root, tip.time + 1, bits, 0)
    return Block(grind(header, valid_pow), all_txs)


async def misbehave(
    node: NodeProcess, action: Callable[[FakePeer], Awaitable[None]], what: str
) -> tuple[int, int]:
    """Handshake as a new peer, run `action`, expect a close; the listen port it advertised
    and its version nonce."""
    listen_port, nonce = free_port(), secrets.randbits(64)
    peer = await FakePeer.connect(node.p2p_port)
    await peer.handshake(REGTEST, listen_port=listen_port, best_height=0, nonce=nonce)
    await action(peer)
    assert await peer.closed(10), f"the node kept a peer that sent {what}"
    await peer.close()
    return listen_port, nonce


async def reconnect_refused(node: NodeProcess, listen_port: int, nonce: int) -> bool:
    """True when the same peer (listen port and nonce) is closed at the handshake."""
    try:
        peer = await FakePeer.connect(node.p2p_port)
    except OSError:
        return True
    try:
        await peer.handshake(REGTEST, listen_port=listen_port, timeout=5, nonce=nonce)
    except (ConnectionError, TimeoutError):
        await peer.close()
        return True
    refused = await peer.closed(3)
    await peer.close()
    return refused


def ban_line(node: NodeProcess, listen_port: int) -> str | None:
    """The node's log line banning the peer that advertised `listen_port`, if any."""
    pattern = re.compile(rf"banned .*127\.0\.0\.1:{listen_port}\b.*")
    match = pattern.search(node.log_text())
    return match.group(0) if match else None


def test_p2p_invalid(framework: TestFramework) -> None:
    node = framework.add_node()
    sender, miner, payee = (framework.wallet(s) for s in ("sender", "miner", "payee"))

    log.info("Fund a sender and confirm its nonce-0 payment, so nonce 0 is spent")
    node.mine(1, sender.address)
    node.mine(10, miner.address)
    spent = sender.transfer(payee.address, COIN, 0, FEE)
    node.submit(spent.serialize().hex())
    node.mine(1, miner.address)
    status = node.status()
    tip_time = node.block(status["tip"])["time"]
    tip = Tip(hex_to_hash(status["tip"]), status["height"], tip_time, miner.pubkey)
    asyncio.run(run_cases(node, tip, sender, payee))

    log.info("The node is up on the same tip, with no peer left connected")
    assert node.status()["tip"] == status["tip"]
    rows = node.peers()
    assert [r for r in rows if r.get("connected")] == [], rows
    assert any("banned: invalid-block: bad-nonce" in str(r.get("reason")) for r in rows), rows

    log.info("An honest peer still handshakes and gets the tip's header")
    asyncio.run(honest_peer(node, tip))


async def run_cases(node: NodeProcess, tip: Tip, sender: Wallet, payee: Wallet) -> None:
    reuse = sender.transfer(payee.address, 2 * COIN, 0, FEE)  # nonce 0 again
    cases: list[tuple[str, str, Callable[[FakePeer], Awaitable[None]]]] = [
        (
            "a header with bad proof of work",
            "high-hash",
            lambda p: p.send(m.Headers((make_block(tip, valid_pow=False).header,))),
        ),
        (
            "a block with a bad merkle root",
            "bad-txnmrklroot",
            lambda p: p.send(m.BlockMsg(make_block(tip, bad_merkle=True))),
        ),
        (
            "a block whose transfer reuses a spent nonce",
            "bad-nonce",
            lambda p: p.send(m.BlockMsg(make_block(tip, (reuse,)))),
        ),
        (
            "a block with a wrong bits value",
            "bad-diffbits",
            lambda p: p.send(m.BlockMsg(make_block(tip, bits=0x2000FFFF))),
        ),
        (
            "a message just over 4 MiB",
            "",
            lambda p: p.send_raw(bytes([m.Command.PING]) + bytes(m.MAX_MESSAGE_SIZE + 8)),
        ),
        (
            "a 5 MiB frame",
            "oversized-message",
            lambda p: p.send_raw(bytes([m.Command.PING]) + bytes(5 * 1024 * 1024)),
        ),
        (
            "garbage bytes",
            "bad-message",
            lambda p: p.send_raw(b"\xfe\x00garbage that is no message"),
        ),
    ]
    for what, reason, action in cases:
        log.info("Send %s: the node disconnects and bans the peer", what)
        port, nonce = await misbehave(node, action, what)
        line = wait_until(lambda port=port: ban_line(node, port), 10, 0.1, f"a ban after {what}")
        assert reason in line, f"{what}: expected {reason!r} in {line!r}"
        refused = await reconnect_refused(node, port, nonce)
        assert refused, f"a reconnect after {what} was accepted"
        node.check_alive()


async def honest_peer(node: NodeProcess, tip: Tip) -> None:
    peer = await FakePeer.connect(node.p2p_port)
    theirs = await peer.handshake(REGTEST, listen_port=free_port())
    assert theirs.best_height == tip.height
    await peer.send(m.GetHeaders((genesis_block(REGTEST).hash,)))
    headers = await peer.wait_for(m.Headers)
    assert len(headers.headers) == tip.height
    assert headers.headers[-1].hash == tip.prev
    await peer.close()
