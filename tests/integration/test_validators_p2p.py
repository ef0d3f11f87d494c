"""Validator networks over real peer managers on 127.0.0.1 sockets (issue 14): proposals,
signatures and final blocks travel the peer protocol; a forged signature bans its sender."""

from __future__ import annotations

from powchain.consensus.signatures import parse_trailer
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
    ones (another height, an unknown block, evidence on no known parent) are ignored."""
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
        m.BlockSignature(secrets.token_bytes(32), node.producer.key, bytes(64)),  # type: ignore[union-attr]
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
