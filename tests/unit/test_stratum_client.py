"""`powchain miner`'s Stratum client: pool URLs, notify parsing (malformed input is a
ValueError, never a crash), the header it builds, and its extranonce2 per worker."""

from __future__ import annotations

import hashlib

import pytest

from powchain.stratum.client import MinerClient, MinerJob, parse_pool_url

NOTIFY = [
    "0000abcd",
    "00112233" * 8,
    "01" * 54,
    "2f706f7763686169",
    ["aa" * 32],
    "00000001",
    "207fffff",
    "6930c000",
    True,
]


def test_pool_urls() -> None:
    assert parse_pool_url("stratum+tcp://pool.example:3333") == ("pool.example", 3333)
    assert parse_pool_url("127.0.0.1:3334") == ("127.0.0.1", 3334)
    for bad in ("http://x:1", "stratum+tcp://nohost", "stratum+tcp://:5"):
        with pytest.raises(ValueError):
            parse_pool_url(bad)


def test_notify_to_header() -> None:
    job = MinerJob.from_notify(NOTIFY, 0.5)
    assert job.prevhash == bytes.fromhex("33221100" * 8)  # word-swapped back
    assert (job.version, job.bits, job.ntime, job.clean) == (1, 0x207FFFFF, 0x6930C000, True)
    header = job.header76(b"\x00\x00\x00\x07", bytes(8))

    def dsha(b: bytes) -> bytes:
        return hashlib.sha256(hashlib.sha256(b).digest()).digest()

    coinbase = bytes.fromhex("01" * 54) + b"\x00\x00\x00\x07" + bytes(8) + b"/powchai"
    root = dsha(dsha(coinbase) + bytes.fromhex("aa" * 32))
    assert header == (
        (1).to_bytes(4, "little")
        + job.prevhash
        + root
        + (0x6930C000).to_bytes(4, "little")
        + (0x207FFFFF).to_bytes(4, "little")
    )
    assert job.network_target == 0x7FFFFF << (8 * 29)


@pytest.mark.parametrize(
    "params",
    [[], NOTIFY[:8], ["j", "zz", *NOTIFY[2:]], [*NOTIFY[:4], "notalist", *NOTIFY[5:]],
     [*NOTIFY[:5], None, *NOTIFY[6:]], [*NOTIFY[:4], [5], *NOTIFY[5:]]],
)  # fmt: skip
def test_a_malformed_notify_is_a_value_error(params: list[object]) -> None:
    with pytest.raises(ValueError):
        MinerJob.from_notify(params, 1.0)


def test_each_worker_has_its_own_extranonce2() -> None:
    client = MinerClient("127.0.0.1", 1, "u", processes=3)
    client._extranonce2_size = 8
    seen = {client._extranonce2(w) for w in range(3) for _ in range(100)}
    assert len(seen) == 300
    assert {e[0] for e in seen} == {0, 1, 2}  # the worker index in the top byte
