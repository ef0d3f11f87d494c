"""Validator networks over real peer managers on 127.0.0.1 sockets (issue 14): proposals,
signatures and final blocks travel the peer protocol; a forged signature bans its sender."""

from __future__ import annotations

import asyncio

from powchain.consensus.signatures import parse_trailer
from powchain.consensus.valset import proposer_for
from powchain.p2p import messages as m
from tests.fakepeer import FakePeer

from .test_p2p_network import Net, network_test, wait_until
from .valnet import SECRETS, validator_params

PARAMS = validator_params(4)


async def mesh(net: Net, n: int) -> list:  # type: ignore[type-arg]
    started = []
    for i in range(n):
        node, pm = await net.start(f"v{i}", PARAMS, validator_secret=SECRETS[i], verify_processes=0)
        for _, other in started:
            await pm.connect("127.0.0.1", other.listen_port)
        started.append((node, pm))
    return started


@network_test
async def test_four_validators_make_final_blocks_over_the_wire(net: Net) -> None:
    started = await mesh(net, 4)
    nodes = [node for node, _ in started]
    await wait_until(lambda: min(n.tip.height for n in nodes) >= 4, 60)
    assert len({n.block_hash_at(3) for n in nodes}) == 1
    block = nodes[0].get_block(nodes[0].block_hash_at(3))  # type: ignore[arg-type]
    assert block is not None and len(parse_trailer(block.trailer)) >= 3


@network_test
async def test_a_forged_signature_bans_the_peer(net: Net) -> None:
    started = await mesh(net, 2)  # 2 of 4 validators: no quorum, height 1 stays open
    node, pm = started[0]
    proposer = node.producer
    assert proposer is not None

    def known_proposal() -> bool:
        return bool(proposer._proposals)  # type: ignore[attr-defined]

    await wait_until(known_proposal, 60)
    assert node.tip.height == 0
    block_hash = next(iter(proposer._proposals))  # type: ignore[attr-defined]
    other_key = started[1][0].producer.key  # type: ignore[union-attr]
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(PARAMS, listen_port=40_001, best_height=0)
    await peer.send(m.BlockSignature(block_hash, other_key, bytes(64)))
    assert await peer.closed(10), "a forged signature was accepted"
    await peer.close()
    bans = pm.ban_list()
    assert any("invalid-signature: bad-blk-sig" in str(b["reason"]) for b in bans), bans


@network_test
async def test_junk_and_unsolicited_validator_messages_ban_or_are_ignored(net: Net) -> None:
    """On a validator node: junk frames of the three commands ban; well-formed but useless
    ones (another height, a non-validator's signature of an unknown block, evidence on no
    known parent) are ignored."""
    import secrets

    from powchain.core.block import Block, BlockHeader

    started = await mesh(net, 1)  # one of four validators: no quorum, nothing moves
    node, pm = started[0]
    junk = [
        bytes([c]) + b"\xff\xfe\xfd"
        for c in (m.Command.PROPOSAL, m.Command.SIGNATURE, m.Command.EVIDENCE)
    ]
    for port, frame in enumerate(junk, start=41_000):
        peer = await FakePeer.connect(pm.listen_port)
        await peer.handshake(PARAMS, listen_port=port, best_height=0)
        await peer.send_raw(frame)
        assert await peer.closed(10), frame[:1]
        await peer.close()
    header = BlockHeader(
        1, secrets.token_bytes(32), bytes(32), 1_700_000_001, PARAMS.genesis_bits, 0
    )
    useless = [
        m.Proposal(0, Block(header, ()).with_trailer(b"\x01" + bytes(96))),
        m.BlockSignature(secrets.token_bytes(32), secrets.token_bytes(32), bytes(64)),  # no key
        m.EvidenceMsg(header, b"\x01" + bytes(96), header, b"\x01" + bytes(96)),
    ]
    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(PARAMS, listen_port=42_000, best_height=0)
    for message in useless:
        await peer.send(message)
    await peer.send(m.Ping(7))
    assert (await peer.wait_for(m.Pong)).nonce == 7
    assert not await peer.closed(1)
    await peer.close()
    assert len(pm.ban_list()) == 3


@network_test
async def test_a_validator_returning_after_a_long_halt_resumes_within_the_round(net: Net) -> None:
    """4 validators, T = 3. v2 leaves; v0 and v1 halt, locked, while their rounds grow (2 s,
    4 s, 6 s, ...). They may be locked on two proposals when v2 left in the middle of a
    height: one of them then holds v2's signature. v3, never seen before (behind by every
    block), joins during a round whose proposer is offline: it syncs, hears a locked
    signature, asks for the proposal (getdata PROPOSAL), signs the one its signature makes
    final, and the height is final in that same round. Before, the chain waited for the next
    round with an online proposer, or v3 locked on a block of its own and the height split."""
    started = await mesh(net, 3)
    nodes = [node for node, _ in started]
    await wait_until(lambda: min(n.tip.height for n in nodes) >= 2, 60)
    await asyncio.wait_for(net.stop(*started[2]), 30)
    live = nodes[:2]
    producers = [n.producer for n in live]
    assert all(p is not None for p in producers)
    online = {p.key for p in producers}  # type: ignore[union-attr]
    await asyncio.sleep(0)
    halted = live[0].tip.height

    def locked_and_offline_turn() -> bool:
        p = producers[0]
        assert p is not None
        if live[1].tip.height != halted or live[0].tip.height != halted:
            return False
        if any(q.record.locked(halted + 1) is None for q in producers):  # type: ignore[union-attr]
            return False  # (they may be locked on different proposals: v2 left mid-height)
        state = p._state()[0]  # type: ignore[attr-defined]
        return p.round >= 2 and proposer_for(state, halted + 1, p.round) not in online

    try:
        await wait_until(locked_and_offline_turn, 60)
    except TimeoutError:
        raise AssertionError(_dump(live)) from None
    round_at_return = producers[0].round  # type: ignore[union-attr]
    assert live[0].tip.height == halted  # halted: T = 3 and two sign

    joiner, pm = await asyncio.wait_for(
        net.start("v3", PARAMS, validator_secret=SECRETS[3], verify_processes=0), 30
    )
    await asyncio.wait_for(pm.connect("127.0.0.1", started[0][1].listen_port), 30)
    rounds_seen: list[int] = []

    def resumed() -> bool:
        if live[0].tip.height == halted:
            rounds_seen.append(producers[0].round)  # type: ignore[union-attr]
        return min(n.tip.height for n in (*live, joiner)) > halted

    try:
        await wait_until(resumed, 60)
    except TimeoutError:
        raise AssertionError(_dump([*live, joiner])) from None
    assert max(rounds_seen) == round_at_return, (round_at_return, rounds_seen[-1])
    final = live[0].get_block(live[0].block_hash_at(halted + 1))  # type: ignore[arg-type]
    assert final is not None
    signers = {s.key for s in parse_trailer(final.trailer)}
    assert joiner.producer.key in signers  # type: ignore[union-attr]
    assert joiner.block_hash_at(halted + 1) == final.hash


def _dump(nodes: list) -> str:  # type: ignore[type-arg]
    """What each validator holds at its open height (for a failure message)."""
    lines = []
    for node in nodes:
        p = node.producer
        lock = p.record.locked(p.height)
        lines.append(
            f"tip {node.tip.height} height {p.height} round {p.round} why_not {p.why_not} "
            f"lock {lock.block_hash.hex()[:8] if lock else None} proposals "
            + str({h.hex()[:8]: len(p._sigs.get(h, {})) for h in p._proposals})
        )
    return "\n".join(lines)


@network_test
async def test_proposal_requests_are_answered_and_bounded(net: Net) -> None:
    """The catch-up messages, happy and adversarial: a new peer gets the signature the node is
    locked on and, asking `getdata` PROPOSAL, the proposal (a hash nobody proposed gets
    `notfound`). A signature for an unknown block makes the node ask only when it is a
    current validator's and verifies, once per ASK_AGAIN s; a foreign key's asks nothing, a
    forged one (a validator's key, a signature that does not verify) bans its sender."""
    import secrets

    from powchain.consensus.signatures import signing_hash
    from powchain.core.keys import schnorr_sign, xonly_pubkey

    started = await mesh(net, 1)  # one of four: no quorum; it proposes in its turn and locks
    node, pm = started[0]
    proposer = node.producer
    assert proposer is not None
    await wait_until(lambda: proposer.record.locked(proposer.height) is not None, 90)
    locked = proposer.record.locked(proposer.height)
    assert locked is not None

    peer = await FakePeer.connect(pm.listen_port)
    await peer.handshake(PARAMS, listen_port=43_000, best_height=0)
    standing = await peer.wait_for(m.BlockSignature)
    assert (standing.block_hash, standing.key) == (locked.block_hash, proposer.key)
    nobody = secrets.token_bytes(32)
    await peer.send(
        m.GetData(
            (
                m.InvItem(m.InvType.PROPOSAL, locked.block_hash),
                m.InvItem(m.InvType.PROPOSAL, nobody),
            )
        )
    )
    answer = await peer.wait_for(m.Proposal)
    assert answer.block.hash == locked.block_hash
    assert proposer.key in {s.key for s in parse_trailer(answer.block.trailer)}
    assert (await peer.wait_for(m.NotFound)).items == (m.InvItem(m.InvType.PROPOSAL, nobody),)

    validator = SECRETS[1]  # a current validator that is not running
    stranger = secrets.token_bytes(32)
    unknown = [secrets.token_bytes(32) for _ in range(3)]
    foreign = m.BlockSignature(
        unknown[0], xonly_pubkey(stranger), schnorr_sign(stranger, signing_hash(unknown[0]))
    )  # verifies, but is no validator's: ignored without a check
    good = m.BlockSignature(
        unknown[1], xonly_pubkey(validator), schnorr_sign(validator, signing_hash(unknown[1]))
    )
    for message in (foreign, good, good):  # the good one twice: asked once
        await peer.send(message)
    await peer.send(m.Ping(9))
    await peer.wait_for(m.Pong)
    asks = [x for x in peer.received if isinstance(x, m.GetData)]
    assert asks == [m.GetData((m.InvItem(m.InvType.PROPOSAL, unknown[1]),))]
    assert not await peer.closed(0.5) and not pm.ban_list()
    await peer.close()

    forger = await FakePeer.connect(pm.listen_port)
    await forger.handshake(PARAMS, listen_port=43_001, best_height=0)
    await forger.send(m.BlockSignature(unknown[2], xonly_pubkey(validator), bytes(64)))
    assert await forger.closed(10), "a forged signature of an unknown block was let through"
    await forger.close()
    bans = pm.ban_list()
    assert len(bans) == 1 and "invalid-signature: bad-blk-sig" in str(bans[0]["reason"]), bans
