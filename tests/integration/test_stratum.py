"""The Stratum v1 server against the independent client of tests/stratum_client.py (which
imports none of powchain): the handshake and the fields of a job, accepted shares, a found
block paying the miner's address, each error 20-25 with its trigger, clean_jobs on a new tip,
the rebroadcast, the mempool refresh and version rolling (refused, BIP-310)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from powchain.consensus.subsidy import block_subsidy
from powchain.core.transaction import Transaction
from powchain.stratum.jobs import COINBASE_MESSAGE
from tests.stratum_client import DIFF1, StratumTestClient, compact_target, dsha

from .chainbuilder import ALICE, BOB, MINER
from .stratum_fixture import FLOOR, Served, served


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def ready(s: Served, pub: bytes = MINER.pub) -> StratumTestClient:
    """A client that subscribed and authorized with `pub`'s address and has its first job."""
    client = StratumTestClient("127.0.0.1", s.port)
    client.subscribe()
    assert client.call("mining.authorize", [s.address(pub), "x"])["result"] is True
    client.wait_job()
    return client


def test_handshake_and_the_fields_of_a_job(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        result = client.subscribe()["result"]
        assert [m for m, _ in result[0]] == ["mining.set_difficulty", "mining.notify"]
        assert len(result[1]) == 8 and client.extranonce2_size == 8
        assert client.jobs == []  # no job before the payout address is known
        assert client.call("mining.authorize", [s.address(MINER.pub) + ".rig1", "x"])["result"]
        job = client.wait_job()
        assert client.order[:2] == ["mining.set_difficulty", "mining.notify"]
        assert client.difficulty == FLOOR
        tip = s.node.tip
        assert job.clean is True
        assert job.prev_block == tip.hash
        assert job.prevhash_hex != tip.hash.hex()  # word-swapped on the wire
        assert (job.version_hex, job.nbits_hex) == ("00000001", f"{s.node.next_bits():08x}")
        assert len(job.ntime_hex) == 8 and int(job.ntime_hex, 16) > tip.header.time
        assert job.branch == []  # an empty mempool: the coinbase is the only transaction
        coinbase = job.coinbase(client.extranonce1, bytes(8))
        assert len(coinbase) != 64
        tx = Transaction.from_bytes(coinbase)  # it is powchain's coinbase, paying us
        assert (tx.recipient, tx.nonce) == (MINER.pub, tip.height + 1)
        assert tx.amount == block_subsidy(tip.height + 1, s.node.params)
        assert tx.data == client.extranonce1 + bytes(8) + COINBASE_MESSAGE
        other = ready(s, ALICE.pub)
        assert other.extranonce1 != client.extranonce1


def test_shares_are_accepted_and_a_block_pays_the_miner_on_the_node(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        client = ready(s)
        job = client.jobs[-1]
        network = compact_target(int(job.nbits_hex, 16))
        accepted, counter = 0, 0
        while accepted < 3:  # shares at the floor that are not blocks
            counter += 1
            en2, nonce, digest = client.find_share(job, FLOOR, counter)
            if int.from_bytes(digest, "little") <= network:
                continue
            assert client.submit("user-ignored", job, en2, nonce)["error"][0] == 24
            answer = client.submit(s.address(MINER.pub), job, en2, nonce)
            assert answer == {"id": answer["id"], "result": True, "error": None}
            accepted += 1
        assert s.node.tip.height == 0
        en2, nonce, digest = client.find_share(job, DIFF1 / network, counter + 1)
        assert client.submit(s.address(MINER.pub), job, en2, nonce)["result"] is True
        wait_until(lambda: s.node.tip.height == 1)
        assert s.node.tip.hash == digest
        block = s.node.get_block(digest)
        assert block is not None and block.txs[0].recipient == MINER.pub
        assert s.node.account_info(MINER.pub).immature == block_subsidy(1, s.node.params)
        stats = s.call(s.server.stats)
        assert stats["shares"]["accepted"] == 4 and stats["blocks_found"] == 1
        assert stats["shares"]["rejected"] == {"unauthorized": 3}
        (worker,) = stats["workers"]
        assert worker["accepted"] == 4 and worker["blocks"] == 1 and worker["hashrate"] > 0
        assert stats["recent_blocks"][0]["address"] == s.address(MINER.pub)


def test_each_error_code_with_its_trigger(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        user = s.address(MINER.pub)
        fresh = StratumTestClient("127.0.0.1", s.port)
        answer = fresh.call("mining.submit", [user, "00000001", "00" * 8, "00000000", "0" * 8])
        assert answer["error"][0] == 25 and answer["result"] is None  # not subscribed
        fresh.subscribe()
        answer = fresh.call("mining.submit", [user, "00000001", "00" * 8, "00000000", "0" * 8])
        assert answer["error"][0] == 24  # not authorized
        refused = fresh.call("mining.authorize", ["tpow1notanaddress", "x"])
        assert refused["error"][0] == 24 and "not a regtest address" in refused["error"][1]
        assert refused["result"] is None

        client = ready(s)
        job = client.jobs[-1]
        en2, nonce, _ = client.find_share(job, FLOOR, 1, not_block=True)  # the job stays live
        stale = client.call("mining.submit", [user, "deadbeef", en2.hex(), job.ntime_hex, "0" * 8])
        assert stale["error"][0] == 21  # job not found
        assert client.submit(user, job, en2, nonce)["result"] is True
        assert client.submit(user, job, en2, nonce)["error"][0] == 22  # duplicate
        en2, nonce = client.find_miss(job, FLOOR, 2)
        assert client.submit(user, job, en2, nonce)["error"][0] == 23  # low difficulty
        assert client.submit(user, job, b"\x01" * 4, nonce)["error"][0] == 20  # short en2
        far = f"{int(job.ntime_hex, 16) + 3 * 3600:08x}"
        assert client.submit(user, job, en2, nonce, far)["error"][0] == 20  # ntime too new
        assert client.call("mining.get_transactions", [])["error"][0] == 20  # unknown
        stats = s.call(s.server.stats)
        assert stats["shares"]["rejected"] == {
            "not-subscribed": 1,
            "unauthorized": 1,
            "stale": 1,
            "duplicate": 1,
            "low-difficulty": 1,
            "other": 2,
        }


def test_a_new_tip_sends_a_clean_job_and_the_old_job_is_stale(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        client = ready(s)
        old = client.jobs[-1]
        en2, nonce, _ = client.find_share(old, FLOOR, 1)
        (new_hash,) = s.run(s.node.mine_blocks(1, BOB.pub))
        job = client.wait_job(after=1)
        assert job.clean is True and job.prev_block == new_hash
        assert client.submit(s.address(MINER.pub), old, en2, nonce)["error"][0] == 21


def test_a_fresh_job_every_rebroadcast_period_without_a_new_tip(tmp_path: Path) -> None:
    with served(tmp_path, rebroadcast=0.5) as s:
        client = ready(s)
        second = client.wait_job(after=1, timeout=60)
        first = client.jobs[0]
        assert second.clean is False and second.job_id != first.job_id
        assert second.prev_block == first.prev_block
        en2, nonce, _ = client.find_share(first, FLOOR, 1)  # the older job stays valid
        assert client.submit(s.address(MINER.pub), first, en2, nonce)["result"] is True


def test_a_mempool_transaction_reaches_miners_in_a_new_job(tmp_path: Path) -> None:
    with served(tmp_path, tx_refresh=0.0) as s:
        s.run(s.node.mine_blocks(s.node.params.coinbase_maturity + 1, ALICE.pub))
        client = ready(s)
        seen = len(client.jobs)
        tx = ALICE.transfer(BOB.pub, 1_000, fee=5_000, nonce=0)
        s.call(lambda: s.node.submit_transaction(tx))
        job = client.wait_job(after=seen)
        assert job.clean is False and job.branch == [tx.txid]
        en2, nonce, _ = client.find_share(job, DIFF1 / compact_target(int(job.nbits_hex, 16)))
        assert client.submit(s.address(MINER.pub), job, en2, nonce)["result"] is True
        wait_until(lambda: s.node.get_transaction(tx.txid).height is not None)  # type: ignore[union-attr]


def test_version_rolling_is_refused_with_a_reason(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        options = {"version-rolling.mask": "1fffe000", "version-rolling.min-bit-count": 2}
        result = client.call("mining.configure", [["version-rolling"], options])["result"]
        assert isinstance(result["version-rolling"], str)  # BIP-310: a string is an error
        assert "version 1" in result["version-rolling"]
        client.subscribe()
        client.call("mining.authorize", [s.address(MINER.pub), "x"])
        job = client.wait_job()
        en2, nonce, _ = client.find_share(job, FLOOR, 1)
        rolled = client.submit(s.address(MINER.pub), job, en2, nonce, None, "00002000")
        assert rolled["error"][0] == 20 and "version rolling" in rolled["error"][1]
        assert client.submit(s.address(MINER.pub), job, en2, nonce, None, "00000000")["result"]


@pytest.mark.parametrize("extension", ["minimum-difficulty", "subscribe-extranonce"])
def test_configure_answers_every_extension(tmp_path: Path, extension: str) -> None:
    with served(tmp_path) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        params = {"minimum-difficulty.value": 0.01}
        result = client.call("mining.configure", [[extension], params])["result"]
        assert result == {extension: extension == "minimum-difficulty"}


def test_the_found_share_hash_is_the_block_hash(tmp_path: Path) -> None:
    """The client's own header assembly agrees with the block the node stores."""
    with served(tmp_path) as s:
        client = ready(s)
        job = client.jobs[-1]
        network = compact_target(int(job.nbits_hex, 16))
        en2, nonce, digest = client.find_share(job, DIFF1 / network)
        client.submit(s.address(MINER.pub), job, en2, nonce)
        wait_until(lambda: s.node.tip.height == 1)
        block = s.node.get_block(s.node.tip.hash)
        assert block is not None
        assert dsha(block.header.serialize()) == digest
        assert block.txs[0].serialize() == job.coinbase(client.extranonce1, en2)
