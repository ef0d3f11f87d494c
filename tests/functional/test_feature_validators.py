"""Validator networks on real node processes (issue 14).

- 5 validators, T = 3: two killed (kill -9), blocks keep coming, and once the two are seen
  offline no round waits for their timeout (the next proposer claims its round); a third
  killed, the chain halts without forking (rounds advance, heights do not); one back, blocks
  resume in the round in progress (it joins the proposal the others are locked on); the
  others back, they catch up. Over all of it no node ever reports a final block replaced.
- A scripted peer sends a non-validator's block, a block with T - 1 signatures and one with a
  signature over another header: each is refused and the peer banned; a validly signed block
  is accepted.
- A test-only lying validator signs a second block at its heights: every honest node stores
  the evidence, and the liar's signatures count no more.
- A validator killed at each crash point around signing restarts without signing a second
  block at that height (the history and evidence stay clean).
"""

from __future__ import annotations

import asyncio
import logging
import time

from powchain.consensus.signatures import Signature, encode_trailer, signing_hash
from powchain.consensus.subsidy import block_subsidy
from powchain.consensus.valset import genesis_set, proposer_for
from powchain.core.block import Block, BlockHeader
from powchain.core.hashing import hex_to_hash, merkle_root
from powchain.core.keys import schnorr_sign, xonly_pubkey
from powchain.core.transaction import Transaction
from powchain.p2p import messages as m
from tests.fakepeer import FakePeer

from .framework import TestFramework, free_port, wait_until
from .validator_nodes import History, ValidatorNet, ValidatorProcess, wait_heights

log = logging.getLogger("functional")
TIMEOUT = 240.0


def test_five_validators_survive_two_down_and_halt_at_three(framework: TestFramework) -> None:
    net = ValidatorNet(framework, 5)
    assert "final with 3 signatures" in net.output
    nodes = [net.add(i) for i in range(5)]
    net.connect_all()
    history = History()

    log.info("All five sign: blocks come")
    wait_heights(nodes, 3, history, TIMEOUT)
    line = nodes[0].status()["validators"]
    assert line["threshold"] == 3 and line["count"] == 5 and line["signing"] is True

    log.info("Two killed with kill -9: the three left still make T = 3")
    nodes[3].kill9()
    nodes[4].kill9()
    live = nodes[:3]
    start = max(history.record(n) for n in live)
    wait_heights(live, start + 4, history, TIMEOUT)

    log.info("Once the two are seen offline, they are skipped: no round times out")
    wait_until(
        lambda: all(n.validators()["validators"] and _online(n) == 3 for n in live),
        TIMEOUT, 0.5, "the two killed to be seen offline",
    )  # fmt: skip
    wait_heights(live, max(history.record(n) for n in live) + 1, history, TIMEOUT)
    timeouts = [n.validators()["round_timeouts"] for n in live]
    start = max(history.record(n) for n in live)
    wait_heights(live, start + 6, history, TIMEOUT)  # 2 or 3 of them had an offline proposer
    assert [n.validators()["round_timeouts"] for n in live] == timeouts

    log.info("A third killed: no quorum, the rounds advance but no block is final")
    nodes[2].kill9()
    live = nodes[:2]
    halted = max(history.record(n) for n in live)
    round_before = min(n.validators()["round"] for n in live)
    wait_until(
        lambda: all(n.validators()["round"] >= round_before + 2 for n in live),
        TIMEOUT, 0.5, "two more rounds",
    )  # fmt: skip
    assert max(history.record(n) for n in live) <= halted + 1  # one may have been in flight
    halted = max(history.record(n) for n in live)

    def no_quorum() -> bool:
        local = [v for v in nodes[0].validators()["validators"] if v["local"]]
        return local[0]["why_not_signing"] == "no quorum"

    wait_until(no_quorum, TIMEOUT, 0.5, "node0 to say why it cannot sign: no quorum")

    log.info("One returns: blocks resume in the round in progress (or the next one)")
    survivors = live
    round_at_return = max(n.validators()["round"] for n in survivors)
    spawned = time.monotonic()
    nodes[2].start()
    returned = time.monotonic()
    rounds_seen: list[int] = []

    def resumed() -> bool:
        heights = [history.record(n) for n in survivors]
        if min(heights) <= halted:
            rounds_seen.append(max(n.validators()["round"] for n in survivors))
        return min(heights) > halted

    wait_until(resumed, TIMEOUT, 0.1, "the halted height to be final")
    log.info(
        "resumed %.1f s after the returning node was spawned (its API answered after %.1f s);"
        " rounds %d -> %d", time.monotonic() - spawned, returned - spawned, round_at_return,
        max(rounds_seen, default=round_at_return),
    )  # fmt: skip
    # the rounds had grown to >= 6 s each: no new round was needed beyond a process start
    assert max(rounds_seen, default=round_at_return) <= round_at_return + 1, rounds_seen
    live = nodes[:3]
    wait_heights(live, halted + 2, history, TIMEOUT)

    log.info("The last two return and catch up on the same chain")
    nodes[3].start()
    nodes[4].start()
    top = max(history.record(n) for n in nodes)
    wait_heights(nodes, top + 1, history, TIMEOUT)
    for node in nodes:
        history.record(node, full=True)
    history.check_agreement()
    assert all(not n.validators()["evidence"] for n in nodes)


def _online(node: ValidatorProcess) -> int:
    return sum(1 for v in node.validators()["validators"] if v["online"])


def _block(net: ValidatorNet, tip_hash: bytes, height: int, time: int, round_: int = 0) -> Block:
    params = net.params
    coinbase = Transaction.coinbase(
        params.chain_id, height, net.keys[0], block_subsidy(height, params), b"scripted"
    )
    header = BlockHeader(
        1, tip_hash, merkle_root([coinbase.txid]), time, params.genesis_bits, round_
    )
    return Block(header, (coinbase,))


def _signed(block: Block, secrets: list[bytes], over: Block | None = None) -> Block:
    target = over or block
    sigs = [
        Signature(
            xonly_pubkey(s),
            schnorr_sign(s, signing_hash(target.hash if i == 0 and over else block.hash)),
        )
        for i, s in enumerate(secrets)
    ]
    return block.with_trailer(encode_trailer(sigs))


def test_bad_signed_blocks_are_refused_and_the_peer_banned(framework: TestFramework) -> None:
    net = ValidatorNet(framework, 3)  # T = 2; only an observer runs: the tip stays at genesis
    node = net.add(None)
    status = node.status()
    tip, genesis_time = hex_to_hash(status["tip"]), node.block(0)["time"]
    state = genesis_set(net.params.validators, net.params.validator_threshold)
    proposer = proposer_for(state, 1, 0)
    by_key = dict(zip(net.keys, net.secrets, strict=False))
    assert proposer is not None
    other = next(k for k in state.validators if k != proposer)
    block = _block(net, tip, 1, genesis_time + 1)
    stranger = bytes(31) + b"\x07"
    cases = [
        ("a non-validator's block", "bad-blk-signer", _signed(block, [by_key[proposer], stranger])),
        ("T - 1 signatures", "bad-blk-quorum", _signed(block, [by_key[proposer]])),
        (
            "a signature over another header",
            "bad-blk-sig",
            _signed(
                block, [by_key[other], by_key[proposer]], over=_block(net, tip, 1, genesis_time + 2)
            ),
        ),
    ]

    async def run() -> None:
        for what, reason, bad in cases:
            log.info("A peer sends %s", what)
            peer = await FakePeer.connect(node.p2p_port)
            await peer.handshake(net.params, listen_port=free_port(), best_height=0)
            await peer.send(m.BlockMsg(bad))
            assert await peer.closed(20), f"the node kept a peer that sent {what}"
            await peer.close()
            rows = node.peers()
            assert any(f"invalid-block: {reason}" in str(r.get("reason")) for r in rows), rows
        log.info("A validly signed block is accepted from a new peer")
        peer = await FakePeer.connect(node.p2p_port)
        await peer.handshake(net.params, listen_port=free_port(), best_height=0)
        await peer.send(m.BlockMsg(_signed(block, [by_key[proposer], by_key[other]])))
        wait_until(lambda: node.height == 1, 30, 0.2, "the good block")
        await peer.close()

    asyncio.run(run())
    assert node.hash_at(1) == block.header.hash_hex
    assert node.block(1)["signers"]


def test_equivocating_validator_is_caught_on_every_honest_node(framework: TestFramework) -> None:
    net = ValidatorNet(framework, 5)
    liar_key = 0
    nodes = [
        net.add(i, **({"POWCHAIN_TEST_EQUIVOCATE": "1"} if i == liar_key else {})) for i in range(5)
    ]
    net.connect_all()
    honest = [n for i, n in enumerate(nodes) if i != liar_key]
    liar_address = net.network.params.hrp  # prefix, for the message below

    log.info("The liar signs two blocks at each height it proposes; evidence reaches everyone")
    wait_until(
        lambda: all(n.validators()["evidence"] for n in honest), TIMEOUT, 1.0, "evidence everywhere"
    )
    rows = [n.validators()["evidence"][0] for n in honest]
    convicted = {tuple(r["convicted"]) for r in rows}
    assert len(convicted) == 1 and len(next(iter(convicted))) == 1, convicted
    liar = next(iter(convicted))[0]
    assert liar.startswith(liar_address)
    found = max(r["height"] for r in rows)

    log.info("Blocks keep coming without the liar's signatures")
    history = History()
    wait_heights(honest, found + 5, history, TIMEOUT)
    for h in range(found + 1, found + 5):
        assert liar not in honest[0].block(h)["signers"]
    entry = next(v for v in honest[0].validators()["validators"] if v["address"] == liar)
    assert entry["why_not_signing"] == "equivocation found"
    history.check_agreement()


def test_crash_at_every_point_around_signing_never_double_signs(framework: TestFramework) -> None:
    net = ValidatorNet(framework, 3)  # T = 2
    nodes = [net.add(i) for i in range(3)]
    net.connect_all()
    history = History()
    wait_heights(nodes, 2, history, TIMEOUT)
    victim = nodes[2]
    for point in ("sign-before-record", "sign-after-record", "sign-after-send"):
        log.info("kill at %s, then restart", point)
        victim.stop()
        victim.env = {"POWCHAIN_CRASH_AT": point}
        victim.start(wait=False)  # it may crash before its API answers
        wait_until(lambda: not victim.running, TIMEOUT, 0.2, f"{victim.name} to crash at {point}")
        assert victim.process is not None and victim.process.returncode == 87
        victim.stop()
        victim.env = {}
        victim.start()
        top = max(history.record(n) for n in nodes[:2])
        wait_heights(nodes, top + 2, history, TIMEOUT)
    for node in nodes:
        history.record(node, full=True)
        assert not node.validators()["evidence"]
    history.check_agreement()


def test_set_change_by_votes_add_a_sixth_then_remove_one(framework: TestFramework) -> None:
    from powchain.core.keys import encode_address
    from powchain.wallet.keystore import PASSPHRASE_ENV

    from .framework import run_cli
    from .validator_nodes import PASSPHRASE

    net = ValidatorNet(framework, 5)
    nodes = [net.add(i) for i in range(6)]  # node 5 holds key 5, not a validator yet
    net.connect_all()
    history = History()
    hrp = net.params.hrp
    sixth, fifth = encode_address(hrp, net.keys[5]), encode_address(hrp, net.keys[4])

    def vote(voter: int, action: str, address: str) -> None:
        args = ["validator", "vote", action, address, "--network-file", str(net.file)]
        args += ["--wallet", str(net.wallets[voter]), "--node", nodes[0].api_url]
        result = run_cli(args, env={PASSPHRASE_ENV: PASSPHRASE})
        assert result.returncode == 0, result.stdout + result.stderr

    def members() -> set[str]:
        return {v["address"] for v in nodes[0].validators()["validators"]}

    log.info("Validators earn a block reward first (a vote pays a fee)")
    wait_until(
        lambda: all(nodes[0].account(encode_address(hrp, k))["balance"] > 0 for k in net.keys[:3]),
        TIMEOUT, 1.0, "rewards",
    )  # fmt: skip
    assert nodes[5].status()["validators"]["local"] == sixth
    assert nodes[5].status()["validators"]["signing"] is False

    log.info("Three of five vote the sixth in")
    for voter in range(3):
        vote(voter, "add", sixth)
    wait_until(lambda: sixth in members(), TIMEOUT, 1.0, "the sixth validator")
    assert nodes[0].validators()["threshold"] == 4

    def sixth_signed() -> bool:
        top = nodes[0].height
        return any(sixth in nodes[0].block(h)["signers"] for h in range(top - 2, top + 1))

    wait_until(sixth_signed, TIMEOUT, 1.0, "a block signed by the sixth")

    log.info("Four of six vote the fifth out; its signatures no longer count")
    for voter in range(4):
        vote(voter, "remove", fifth)
    wait_until(lambda: fifth not in members(), TIMEOUT, 1.0, "the fifth removed")
    removed_at = history.record(nodes[0])
    wait_heights(nodes[:4] + nodes[5:], removed_at + 3, history, TIMEOUT)
    for h in range(removed_at + 1, removed_at + 3):
        assert fifth not in nodes[0].block(h)["signers"]
    for node in nodes:
        history.record(node, full=True)
    history.check_agreement()
