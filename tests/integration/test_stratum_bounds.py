"""The Stratum server's bounds, each next to the happy path it protects: line length,
malformed lines, connection count, handshake timeout, workers per connection, the share
memory of a job; and the pure parts (vardiff, difficulty bounds, the coinbase size)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from powchain.core.hashing import merkle_root, sha256d
from powchain.core.transaction import Transaction
from powchain.stratum.jobs import COINBASE_DATA_SIZE, coinbase_branch, fold_branch
from powchain.stratum.protocol import (
    StratumError,
    difficulty_to_target,
    parse_request,
    target_to_difficulty,
    word_swap,
)
from powchain.stratum.vardiff import HashRate, Vardiff, difficulty_bounds
from tests.stratum_client import StratumTestClient

from .chainbuilder import MINER
from .stratum_fixture import served


def test_a_line_longer_than_the_bound_is_answered_then_closed(tmp_path: Path) -> None:
    with served(tmp_path, max_line=1024) as s:
        ok = StratumTestClient("127.0.0.1", s.port)
        assert ok.call("mining.subscribe", ["x" * 900])["error"] is None  # under the bound
        client = StratumTestClient("127.0.0.1", s.port)
        client.send_raw(b'{"id": 1, "method": "' + b"a" * 5000)
        answer = client.read_message()
        assert answer is not None and answer["error"][1] == "line too long"
        assert client.closed_by_server()


def test_malformed_lines_are_answered_and_the_third_closes(tmp_path: Path) -> None:
    with served(tmp_path, max_malformed=3) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        client.send_raw(b"not json\n[1,2]\n")
        for _ in range(2):
            message = client.read_message()
            assert message is not None and message["error"][0] == 20
        assert client.call("mining.subscribe", [])["error"] is None  # still served
        client.send_raw(b'{"method": 5}\n')
        message = client.read_message()
        assert message is not None and message["error"][0] == 20
        assert client.closed_by_server()
        assert s.call(s.server.stats)["malformed_lines"] == 3


def test_connections_beyond_the_bound_are_refused(tmp_path: Path) -> None:
    with served(tmp_path, max_connections=2) as s:
        first = StratumTestClient("127.0.0.1", s.port)
        second = StratumTestClient("127.0.0.1", s.port)
        first.subscribe(), second.subscribe()
        third = StratumTestClient("127.0.0.1", s.port)
        assert third.closed_by_server()
        assert s.call(s.server.stats)["refused_connections"] == 1
        first.close()
        import time

        deadline = time.monotonic() + 30
        while s.call(lambda: len(s.server.connections)) > 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        fourth = StratumTestClient("127.0.0.1", s.port)
        assert fourth.subscribe()["error"] is None


def test_a_connection_that_never_authorizes_is_closed(tmp_path: Path) -> None:
    with served(tmp_path, handshake_timeout=1.0) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        client.subscribe()
        assert client.closed_by_server(timeout=60)
        dripping = StratumTestClient("127.0.0.1", s.port)  # a line now and then is no excuse
        closed = False
        for _ in range(600):
            try:
                dripping.send_raw(b'{"id": 1, "method": "mining.extranonce.subscribe"}\n')
                dripping.read_message(0.2)
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
            if dripping.closed_by_server(timeout=0.2):
                closed = True
                break
        assert closed


def test_workers_per_connection_are_bounded(tmp_path: Path) -> None:
    with served(tmp_path, max_workers=2) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        client.subscribe()
        address = s.address(MINER.pub)
        assert client.call("mining.authorize", [f"{address}.a", ""])["result"] is True
        assert client.call("mining.authorize", [f"{address}.b", ""])["result"] is True
        third = client.call("mining.authorize", [f"{address}.c", ""])
        assert third["error"][0] == 24 and "too many workers" in third["error"][1]


def test_a_job_full_of_shares_refuses_more_as_stale(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        client = StratumTestClient("127.0.0.1", s.port)
        client.subscribe()
        client.call("mining.authorize", [s.address(MINER.pub), ""])
        job = client.wait_job()
        s.call(lambda: s.server.jobs[job.job_id].shares.update(range(16_384)))  # type: ignore[arg-type]
        en2, nonce, _ = client.find_share(job, 1e-6, 1)
        assert client.submit(s.address(MINER.pub), job, en2, nonce)["error"][0] == 21


def test_the_socket_closes_cleanly_on_eof(tmp_path: Path) -> None:
    with served(tmp_path) as s:
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall(b'{"id": 1, "method": "mining.subscribe", "params": []}')
        sock.shutdown(socket.SHUT_WR)  # no newline, then EOF: nothing to answer
        sock.settimeout(30)
        assert sock.recv(100) == b""


# -- the pure parts -----------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 5, 7, 8, 9])
def test_the_coinbase_branch_folds_to_the_merkle_root(count: int) -> None:
    coinbase = sha256d(b"coinbase")
    others = [sha256d(bytes([i])) for i in range(count)]
    branch = coinbase_branch(others)
    assert fold_branch(coinbase, branch) == merkle_root([coinbase, *others])


def test_the_stratum_coinbase_is_never_64_bytes() -> None:
    for height in (0, 1, 2**32, 2**63):
        tx = Transaction.coinbase(0, height, bytes(32), 2**63, bytes(COINBASE_DATA_SIZE))
        assert tx.size == 54 + COINBASE_DATA_SIZE != 64


def test_difficulty_and_target() -> None:
    assert difficulty_to_target(1) == 0xFFFF << 208
    assert difficulty_to_target(0.5) == (0xFFFF << 208) * 2  # exact for binary fractions
    assert abs(difficulty_to_target(0.001) / ((0xFFFF << 208) * 1000) - 1) < 1e-12
    assert target_to_difficulty(difficulty_to_target(0.25)) == pytest.approx(0.25)
    assert difficulty_to_target(1e-80) == 2**256 - 1
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            difficulty_to_target(bad)
    assert word_swap(bytes(range(8))) == bytes([3, 2, 1, 0, 7, 6, 5, 4])


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"{",
        b"[]",
        b'"x"',
        b'{"id": 1}',
        b'{"method": "", "id": 1}',
        b'{"method": "m", "params": {}}',
        b'{"method": "m", "id": true}',
        b'{"method": "m", "id": "' + b"x" * 65 + b'"}',
        b"\xff\xfe",
        b"[" * 100_000,
    ],
)
def test_parse_request_refuses_what_is_not_a_request(line: bytes) -> None:
    with pytest.raises(StratumError) as err:
        parse_request(line)
    assert err.value.code == 20


def test_difficulty_bounds_with_the_regtest_floor() -> None:
    assert difficulty_bounds(4.6e-10, 0.001) == (0.001, 0.001)  # regtest: every share a block
    assert difficulty_bounds(5.0, 0.001) == (0.001, 5.0)
    assert difficulty_bounds(5.0, 1e-12) == (1e-9, 5.0)  # never below what miners represent


def test_vardiff_moves_toward_the_share_interval_within_bounds() -> None:
    v = Vardiff(1.0, 0.01, 100.0, target_interval=10.0, now=0.0)
    for i in range(6):
        v.record_share(0.1 * i)
    assert v.retarget(1.0) == 4.0  # 6 shares in 1 s, wanted one per 10 s: up, at most 4x
    assert v.retarget(2.0) is None  # too early to judge
    assert v.retarget(100.0) == 1.0  # no share in 98 s: down 4x
    v.set_bounds(2.0, 3.0)
    assert v.difficulty == 2.0
    v.suggest(1000.0, 200.0)
    assert v.difficulty == 3.0


def test_hash_rate_estimate_from_shares() -> None:
    rate = HashRate(window=100.0)
    assert rate.estimate(0.0) == 0.0
    for t in range(0, 100, 10):
        rate.add(float(t), 1.0)
    assert rate.estimate(100.0) == pytest.approx(10 * 2**32 / 100.0)
