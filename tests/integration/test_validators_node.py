"""Validator networks in one process (issue 14): real Nodes on SQLite, loopback delivery."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from powchain.consensus.errors import Rejected
from powchain.consensus.signatures import parse_trailer

from .valnet import KEYS, ValNet, validator_params, wait_until


def test_four_validators_finalize_blocks_and_agree(tmp_path: Path) -> None:
    async def run() -> None:
        net = ValNet(tmp_path, validator_params(4), 4)
        await net.start_all()
        try:
            await wait_until(lambda: min(net.heights()) >= 6)
            hashes = {n.block_hash_at(5) for n in net.nodes}
            assert len(hashes) == 1
            block = net.nodes[0].get_block(hashes.pop())  # type: ignore[arg-type]
            assert block is not None
            signers = {s.key for s in parse_trailer(block.trailer)}
            assert len(signers) >= 3 and signers <= set(KEYS[:4])
            assert not net.refused, net.refused
        finally:
            await net.stop_all()

    asyncio.run(run())


def test_one_down_continues_two_down_halts_and_resumes_without_fork(tmp_path: Path) -> None:
    async def run() -> None:
        net = ValNet(tmp_path, validator_params(4), 4)  # T = 3
        await net.start_all()
        try:
            await wait_until(lambda: min(net.heights()) >= 3)
            await net.stop(3)
            start = max(net.heights())
            await wait_until(lambda: min(net.heights()) >= start + 4, 120)
            await net.stop(2)
            await asyncio.sleep(0)  # let in-flight deliveries land
            halted = max(net.heights())
            await asyncio.sleep(5)  # the two left cannot make T = 3: nothing is final
            assert max(net.heights()) <= halted + 1
            await net.start(2)
            await wait_until(lambda: min(net.heights()) >= halted + 3, 120)
            for height in range(1, min(net.heights()) + 1):
                assert (
                    len(
                        {
                            n.block_hash_at(height)
                            for n, up in zip(net.nodes, net.alive, strict=True)
                            if up
                        }
                    )
                    == 1
                )
            # node 3 comes back and catches up on the same blocks
            await net.start(3)
            await wait_until(lambda: net.nodes[3].tip.height >= halted + 3, 60)
            assert net.nodes[3].block_hash_at(halted) == net.nodes[0].block_hash_at(halted)
        finally:
            await net.stop_all()

    asyncio.run(run())


def test_equivocating_proposer_is_caught_and_its_later_signatures_do_not_count(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        net = ValNet(tmp_path, validator_params(5), 5)  # T = 3
        await net.start_all()
        liar = KEYS[0]
        try:
            liar_node = next(n for n in net.nodes if n.producer.key == liar)  # type: ignore[union-attr]
            liar_node.producer._equivocate = True  # type: ignore[union-attr]
            honest = [n for n in net.nodes if n is not liar_node]
            await wait_until(
                lambda: all(len(n.engine.evidence(n.chainstate)) >= 1 for n in honest), 120
            )  # type: ignore[attr-defined]
            row = honest[0].engine.evidence(honest[0].chainstate)[0]  # type: ignore[attr-defined]
            assert row.convicted == (liar,)
            found = max(r.height for r in honest[0].engine.evidence(honest[0].chainstate))  # type: ignore[attr-defined]
            await wait_until(lambda: min(n.tip.height for n in honest) >= found + 6, 120)
            for n in honest:
                for height in range(found + 1, found + 6):
                    block = n.get_block(n.block_hash_at(height))  # type: ignore[arg-type]
                    assert block is not None
                    assert liar not in {s.key for s in parse_trailer(block.trailer)}
            status = honest[0].engine.status(honest[0])["validators"]  # type: ignore[attr-defined]
            assert status["evidence"] >= 1
        finally:
            await net.stop_all()

    asyncio.run(run())


def test_set_change_by_votes_add_a_sixth_then_remove_one(tmp_path: Path) -> None:
    from powchain.wallet.builder import build_vote, suggest_fee, tx_size

    from .valnet import SECRETS

    async def vote(net: ValNet, voter: int, subject: bytes, add: bool) -> None:
        node = net.nodes[0]
        nonce = node.account_info(KEYS[voter]).next_nonce
        fee = suggest_fee(tx_size(34))
        tx = build_vote(SECRETS[voter], node.params.chain_id, nonce, subject, add, fee, bytes(32))
        node.submit_transaction(tx)
        for other in net.nodes[1:]:  # the loopback has no tx relay: hand it to every mempool
            if other.producer is not None:
                with contextlib.suppress(Rejected):  # a node a block behind: others include it
                    other.submit_transaction(tx)

    def validators(net: ValNet) -> tuple[bytes, ...]:
        node = net.nodes[0]
        return node.engine.state_after(node.chainstate, node.tip).validators  # type: ignore[attr-defined, no-any-return]

    async def run() -> None:
        net = ValNet(tmp_path, validator_params(5), 6)  # 5 validators, node 5 holds key 5
        await net.start_all()
        try:
            # every validator earns a coinbase (it pays the vote's fee) before voting
            await wait_until(
                lambda: all(net.nodes[0].account_info(k).balance > 0 for k in KEYS[:5]), 120
            )
            for voter in range(3):
                await vote(net, voter, KEYS[5], True)
            await wait_until(lambda: KEYS[5] in validators(net), 120)
            node = net.nodes[0]
            state = node.engine.state_after(node.chainstate, node.tip)  # type: ignore[attr-defined]
            assert state.threshold == 4 and len(state.validators) == 6

            def sixth_signed() -> bool:
                for h in range(node.tip.height, 0, -1):
                    b = node.get_block(node.block_hash_at(h))  # type: ignore[arg-type]
                    if b is not None and KEYS[5] in {s.key for s in parse_trailer(b.trailer)}:
                        return True
                return False

            await wait_until(sixth_signed, 120)
            for voter in range(4):
                await vote(net, voter, KEYS[4], False)
            await wait_until(lambda: KEYS[4] not in validators(net), 120)
            removed_at = node.tip.height
            await wait_until(lambda: min(net.heights()) >= removed_at + 4, 120)
            for height in range(removed_at + 1, removed_at + 4):
                block = node.get_block(node.block_hash_at(height))  # type: ignore[arg-type]
                assert block is not None and KEYS[4] not in {
                    s.key for s in parse_trailer(block.trailer)
                }
        finally:
            await net.stop_all()

    asyncio.run(run())


def test_api_and_explorer_show_validators_and_signers(tmp_path: Path) -> None:
    import httpx

    from powchain.api.app import create_app
    from powchain.core.keys import encode_address

    async def run() -> None:
        net = ValNet(tmp_path, validator_params(3), 3, observers=1)
        await net.start_all()
        try:
            await wait_until(lambda: min(net.heights()) >= 3)
            await net.stop(2)
            observer = net.nodes[3]
            for node in (net.nodes[0], observer):
                transport = httpx.ASGITransport(app=create_app(node))
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                    body = (await http.get("/api/v1/validators")).json()
                    assert body["threshold"] == 2 and body["count"] == 3
                    rows = {v["address"]: v for v in body["validators"]}
                    assert set(rows) == {encode_address(node.params.hrp, k) for k in KEYS[:3]}
                    status = (await http.get("/api/v1/status")).json()
                    assert status["consensus"] == "validators"
                    assert status["network_hashrate"] is None  # no proof of work to estimate
                    line = status["validators"]
                    if node is observer:
                        assert line["why_not_signing"] == "key not loaded (no --validator-key)"
                        assert line["local"] is None
                    else:
                        assert line["local"] == encode_address(node.params.hrp, KEYS[0])
                    block = (await http.get("/api/v1/blocks/2")).json()
                    assert len(block["signers"]) >= 2
                    page = (await http.get("/block/2")).text
                    assert block["signers"][0] in page and "Signers" in page
                    page = (await http.get("/validators")).text
                    assert "final with" in page and block["signers"][0] in page
                    assert "online of 3" in (await http.get("/")).text
                    for path in ("/", "/chain", "/blocks", "/peers"):
                        r = await http.get(path)
                        assert r.status_code == 200, (path, r.text[:300])
                        assert 'href="/validators"' in r.text
        finally:
            await net.stop_all()

    asyncio.run(run())


def test_pow_network_has_no_validators(tmp_path: Path) -> None:
    import httpx

    from powchain.api.app import create_app
    from powchain.core.params import REGTEST
    from powchain.node.node import Node, NodeConfig

    async def run() -> None:
        node = Node(NodeConfig(params=REGTEST, datadir=tmp_path))
        await node.start()
        try:
            transport = httpx.ASGITransport(app=create_app(node))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                r = await http.get("/api/v1/validators")
                assert r.status_code == 404 and r.json()["error"] == "no-validators"
                status = (await http.get("/api/v1/status")).json()
                assert status["consensus"] == "pow" and "validators" not in status
                assert "Validators" not in (await http.get("/")).text
        finally:
            await node.stop()

    asyncio.run(run())


def test_bare_headers_below_the_tip_are_refused_no_final_block_replaced(tmp_path: Path) -> None:
    import dataclasses

    import pytest

    async def run() -> None:
        net = ValNet(tmp_path, validator_params(3), 3)
        await net.start_all()
        try:
            await wait_until(lambda: min(net.heights()) >= 3)
            node = net.nodes[0]
            one = node.entry(node.block_hash_at(1))  # type: ignore[arg-type]
            assert one is not None
            fork = dataclasses.replace(
                node.entry(node.block_hash_at(2)).header, prev_block=one.hash, time=one.time + 7
            )  # type: ignore[union-attr]
            with pytest.raises(Rejected) as info:
                node.process_headers([fork])
            assert info.value.reason == "conflicts-final"
            assert node.entry(fork.hash) is None
            # a block on that parent, even validly signed, is refused: height 2 is final
            block2 = node.get_block(node.block_hash_at(2))  # type: ignore[arg-type]
            assert block2 is not None
            with pytest.raises(Rejected) as info:
                node.process_block(dataclasses.replace(block2, header=fork))
            assert info.value.reason in ("bad-blk-sig", "bad-proposer", "conflicts-final")
            assert node.block_hash_at(2) == block2.hash
        finally:
            await net.stop_all()

    asyncio.run(run())


def test_partition_three_two_majority_goes_on_minority_halts_then_catches_up(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        net = ValNet(tmp_path, validator_params(5), 5)  # T = 3
        await net.start_all()
        seen: dict[tuple[int, int], bytes] = {}

        def record() -> None:
            for i, node in enumerate(net.nodes):
                for h in range(1, node.tip.height + 1):
                    block_hash = node.block_hash_at(h)
                    assert block_hash is not None
                    assert seen.setdefault((i, h), block_hash) == block_hash, "final block replaced"

        try:
            await wait_until(lambda: min(net.heights()) >= 3)
            net.partition({0, 1, 2}, {3, 4})
            await asyncio.sleep(0.2)  # deliveries already queued land
            record()
            minority = max(net.nodes[3].tip.height, net.nodes[4].tip.height)
            majority = max(net.nodes[i].tip.height for i in range(3))
            await wait_until(
                lambda: min(net.nodes[i].tip.height for i in range(3)) >= majority + 5, 120
            )
            record()
            assert max(net.nodes[3].tip.height, net.nodes[4].tip.height) <= minority + 1
            net.heal()
            top = max(net.heights())
            await wait_until(lambda: min(net.heights()) >= top + 2, 120)
            record()
            for h in range(1, min(net.heights()) + 1):
                assert len({n.block_hash_at(h) for n in net.nodes}) == 1
        finally:
            await net.stop_all()

    asyncio.run(run())
