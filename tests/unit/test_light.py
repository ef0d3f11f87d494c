"""powchain.light: the headers-only chain, following sources, the SQLite file, proofs.

Headers are built here with the network's own difficulty rule (`consensus.pow.next_bits`) on
regtest and on easy variants of the `asert` and `bitcoin` rules, so a header with the wrong
bits or too little work is refused whatever the rule is.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from powchain.consensus.errors import Rejected
from powchain.consensus.pow import bits_to_target, next_bits
from powchain.core.block import BlockHeader
from powchain.core.encoding import compact_size, u8, u32, u64
from powchain.core.hashing import merkle_branch, merkle_root
from powchain.core.params import REGTEST, ChainParams, genesis_block
from powchain.light.headerchain import HeaderChain
from powchain.light.proof import ProofError, TxProof, verify_tx_proof
from powchain.light.store import HeaderStore
from powchain.light.sync import HttpSource, SourceError, follow

ASERT = dataclasses.replace(
    REGTEST, daa="asert", target_spacing=10, half_life=600, pow_limit_bits=0x207FFFFF
)
BITCOIN = dataclasses.replace(
    REGTEST, daa="bitcoin", target_spacing=10, retarget_interval=8, retarget_timespan=80
)
BOUNDED = dataclasses.replace(  # devnet's and testnet's rule (issue 10), at regtest's ease
    REGTEST, daa="asert-bounded", target_spacing=10, half_life=600, pow_limit_bits=0x207FFFFF
)
RULES = [REGTEST, ASERT, BITCOIN, BOUNDED]
NOW = REGTEST.genesis_time + 10**7


def solve(header: BlockHeader, bad: bool = False) -> BlockHeader:
    """A nonce meeting the bits (or, with bad=True, one missing them)."""
    target = bits_to_target(header.bits)
    nonce = 0
    while True:
        candidate = header.with_nonce(nonce)
        if (int.from_bytes(candidate.hash, "little") <= target) != bad:
            return candidate
        nonce += 1


def extend(
    params: ChainParams,
    chain: list[BlockHeader],
    n: int,
    spacing: int = 10,
    salt: bytes = b"",
    roots: dict[int, bytes] | None = None,
) -> list[BlockHeader]:
    """`chain` plus n headers following the network's difficulty rule."""
    out = list(chain)
    for _ in range(n):
        parent = out[-1]
        height = len(out)
        bits = next_bits(params, height - 1, parent, out[0], lambda h: out[h])
        root = (roots or {}).get(height) or hashlib.sha256(salt + u32(height)).digest()
        out.append(solve(BlockHeader(1, parent.hash, root, parent.time + spacing, bits, 0)))
    return out


def genesis(params: ChainParams = REGTEST) -> list[BlockHeader]:
    return [genesis_block(params).header]


class FakeSource:
    """A node's active chain as a list of headers (genesis first)."""

    def __init__(self, name: str, headers: list[BlockHeader]) -> None:
        self.name, self.chain, self.calls = name, headers, 0

    def tip(self) -> tuple[int, bytes]:
        return len(self.chain) - 1, self.chain[-1].hash

    def headers(self, start: int, count: int) -> list[BlockHeader]:
        self.calls += 1
        return self.chain[start : start + min(count, 2000)]


class DeadSource(FakeSource):
    def tip(self) -> tuple[int, bytes]:
        raise SourceError("dead: connection refused")


def light(params: ChainParams = REGTEST, store: HeaderStore | None = None) -> HeaderChain:
    return HeaderChain(params, store, now=lambda: NOW)


# -- following ------------------------------------------------------------------------------


@pytest.mark.parametrize("params", RULES, ids=lambda p: p.daa)
def test_follows_one_node(params: ChainParams) -> None:
    headers = extend(params, genesis(params), 30, spacing=3)
    chain = light(params)
    report = follow(chain, [FakeSource("a", headers)])
    assert chain.height == 30 and chain.tip_hash == headers[-1].hash
    assert [s.status for s in report.sources] == ["agrees"]
    assert report.new_headers == 30 and not report.disagreements


def test_follows_a_reorg_and_flags_the_node_left_behind() -> None:
    main = extend(REGTEST, genesis(), 5)
    chain = light()
    follow(chain, [FakeSource("a", main)])
    longer = extend(REGTEST, main[:3], 5, salt=b"fork")  # forks after height 2, ends at 7
    a, b = FakeSource("a", main), FakeSource("b", longer)
    report = follow(chain, [a, b])
    assert chain.tip_hash == longer[-1].hash and chain.height == 7
    assert report.reorgs == 1
    states = {s.name: s for s in report.sources}
    assert states["b"].status == "agrees"
    assert states["a"].status == "disagrees" and states["a"].fork_height == 2
    assert [s.name for s in report.disagreements] == ["a"]
    assert "leaves the best chain after height 2" in states["a"].describe()


def test_a_node_behind_agrees_and_an_unreachable_one_is_shown() -> None:
    main = extend(REGTEST, genesis(), 6)
    chain = light()
    report = follow(chain, [FakeSource("a", main), FakeSource("b", main[:4]), DeadSource("c", [])])
    states = {s.name: s.status for s in report.sources}
    assert states == {"a": "agrees", "b": "behind", "c": "unreachable"}
    assert len(report.agreeing) == 2


def test_less_work_fork_does_not_win() -> None:
    main = extend(REGTEST, genesis(), 6)
    short = extend(REGTEST, main[:3], 2, salt=b"short")
    chain = light()
    report = follow(chain, [FakeSource("a", main), FakeSource("b", short)])
    assert chain.tip_hash == main[-1].hash
    assert {s.name: s.status for s in report.sources} == {"a": "agrees", "b": "disagrees"}


@pytest.mark.parametrize("params", RULES, ids=lambda p: p.daa)
def test_refuses_wrong_bits(params: ChainParams) -> None:
    headers = extend(params, genesis(params), 9, spacing=3)
    parent = headers[-1]
    wrong = solve(BlockHeader(1, parent.hash, bytes(32), parent.time + 3, 0x207FFFFE, 0))
    chain = light(params)
    report = follow(chain, [FakeSource("evil", [*headers, wrong])])
    state = report.sources[0]
    assert state.status == "invalid" and state.detail.startswith("bad-diffbits")
    assert chain.height == 0  # a batch holding a bad header is refused whole


def test_refuses_bad_proof_of_work_and_broken_links() -> None:
    headers = extend(REGTEST, genesis(), 4)
    parent = headers[-1]
    unsolved = solve(BlockHeader(1, parent.hash, bytes(32), parent.time + 10, parent.bits, 0), True)
    chain = light()
    with pytest.raises(Rejected) as info:
        chain.offer(4, [unsolved]) if chain.offer(0, headers[1:]).accepted else None
    assert info.value.reason == "high-hash"
    unlinked = solve(BlockHeader(1, bytes(32), bytes(32), parent.time + 10, parent.bits, 0))
    with pytest.raises(Rejected) as info:
        chain.offer(4, [unlinked])
    assert info.value.reason == "bad-prevblk"
    assert chain.height == 4


def test_refuses_time_before_median_time_past() -> None:
    headers = extend(REGTEST, genesis(), 12)
    parent = headers[-1]
    old = solve(BlockHeader(1, parent.hash, bytes(32), headers[6].time - 1, parent.bits, 0))
    chain = light()
    chain.offer(0, headers[1:])
    with pytest.raises(Rejected) as info:
        chain.offer(12, [old])
    assert info.value.reason == "time-too-old"


def test_another_network_is_refused() -> None:
    other = extend(ASERT, [dataclasses.replace(genesis()[0], nonce=99)], 2)
    report = follow(light(), [FakeSource("other", other)])
    assert report.sources[0].status == "unreachable"
    assert "another network" in report.sources[0].detail


# -- the SQLite file ------------------------------------------------------------------------


def test_store_persists_reorgs_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "headers.sqlite"
    main = extend(REGTEST, genesis(), 150)
    chain = light(store=HeaderStore(path))
    follow(chain, [FakeSource("a", main)])
    fork = extend(REGTEST, main[:100], 60, salt=b"fork")
    follow(chain, [FakeSource("b", fork)])
    chain.store.close()  # type: ignore[union-attr]
    again = light(store=HeaderStore(path))
    assert again.height == 159 and again.tip_hash == fork[-1].hash
    assert again.chainwork == chain.chainwork
    assert again.hash_at(120) == fork[120].hash


def test_store_refuses_another_networks_file(tmp_path: Path) -> None:
    path = tmp_path / "headers.sqlite"
    light(store=HeaderStore(path)).store.close()  # type: ignore[union-attr]
    store = HeaderStore(path)
    with pytest.raises(ValueError, match="another network"):
        store.check_network(bytes(32))


def test_store_is_small(tmp_path: Path) -> None:
    """The packed layout: well under 80 bytes a header (the bench measures 100,000)."""
    headers = extend(REGTEST, genesis(), 2000)
    store = HeaderStore(tmp_path / "h.sqlite")
    store.check_network(headers[0].hash)
    store.save(headers, 0)
    assert store.load() == headers
    assert store.size_bytes() < 2001 * 56 + 4 * 4096


# -- proofs ---------------------------------------------------------------------------------


def proof_setup(n_tx: int = 5) -> tuple[HeaderChain, list[BlockHeader], list[bytes]]:
    txids = [hashlib.sha256(b"tx" + u32(i)).digest() for i in range(n_tx)]
    headers = extend(REGTEST, genesis(), 8, roots={3: merkle_root(txids)})
    chain = light()
    chain.offer(0, headers[1:])
    return chain, headers, txids


def make_proof(
    headers: list[BlockHeader], txids: list[bytes], index: int, height: int = 3
) -> TxProof:
    header = headers[height]
    return TxProof(
        txids[index], header.hash, height, index, tuple(merkle_branch(txids, index)), header
    )


def test_a_proof_verifies_with_its_confirmations() -> None:
    chain, headers, txids = proof_setup()
    for index in range(5):
        got = verify_tx_proof(make_proof(headers, txids, index), chain, 6)
        assert (got.height, got.confirmations, got.time) == (3, 6, headers[3].time)
    with pytest.raises(ProofError) as info:
        verify_tx_proof(make_proof(headers, txids, 0), chain, 7)
    assert info.value.reason == "not-enough-confirmations"


def test_json_round_trip_and_any_bit_of_the_json_fields() -> None:
    chain, headers, txids = proof_setup()
    proof = make_proof(headers, txids, 2)
    assert TxProof.from_json(proof.to_json()) == proof
    raw_header = proof.header.serialize()
    for bit in range(len(raw_header) * 8):
        flipped = bytearray(raw_header)
        flipped[bit // 8] ^= 1 << (bit % 8)
        bad = dataclasses.replace(proof, header=BlockHeader.parse(bytes(flipped)))
        with pytest.raises(ProofError):
            verify_tx_proof(bad, chain)
    for bit in range(256):
        txid = bytearray(proof.txid)
        txid[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProofError):
            verify_tx_proof(dataclasses.replace(proof, txid=bytes(txid)), chain)
    for bit in range(32):
        with pytest.raises(ProofError):
            verify_tx_proof(dataclasses.replace(proof, index=proof.index ^ (1 << bit)), chain)


def test_a_proof_on_a_side_branch_fails_after_the_reorg() -> None:
    chain, headers, txids = proof_setup()
    proof = make_proof(headers, txids, 1)
    verify_tx_proof(proof, chain)
    longer = extend(REGTEST, headers[:3], 7, salt=b"reorg")
    follow(chain, [FakeSource("b", longer)])
    with pytest.raises(ProofError) as info:
        verify_tx_proof(proof, chain)
    assert info.value.reason == "unknown-block"


def test_an_inner_node_that_parses_as_a_transaction_is_refused() -> None:
    # a 64-byte coinbase: version 0 | chain id | nonce | recipient | amount | 10 bytes of data
    raw = u8(0) + u32(REGTEST.chain_id) + u64(1) + bytes(32) + u64(0) + compact_size(10) + bytes(10)
    assert len(raw) == 64
    txids = [raw[:32], raw[32:]]
    headers = extend(REGTEST, genesis(), 4, roots={2: merkle_root(txids)})
    chain = light()
    chain.offer(0, headers[1:])
    with pytest.raises(ProofError) as info:
        verify_tx_proof(make_proof(headers, txids, 0, height=2), chain)
    assert info.value.reason == "inner-node-is-tx"


def test_malformed_proof_json_gets_a_reason() -> None:
    _chain, headers, txids = proof_setup()
    good = make_proof(headers, txids, 0).to_json()
    for broken in (
        [],
        {**good, "branch": "x"},
        {**good, "index": -1},
        {**good, "index": True},
        {**good, "header": "00" * 79},
        {**good, "txid": "zz" * 32},
        {**good, "branch": ["00" * 32] * 33},
    ):
        with pytest.raises(ProofError) as info:
            TxProof.from_json(broken)
        assert info.value.reason == "bad-proof"


@pytest.mark.parametrize("n_tx", [1, 2, 3, 5, 8, 1001])
def test_every_position_of_a_block_verifies(n_tx: int) -> None:
    chain, headers, txids = proof_setup(n_tx)
    for index in range(n_tx):
        got = verify_tx_proof(make_proof(headers, txids, index), chain, 6)
        assert got.height == 3
    if n_tx > 1:  # a neighbour's branch does not prove this txid
        wrong = dataclasses.replace(make_proof(headers, txids, 1), txid=txids[0])
        with pytest.raises(ProofError):
            verify_tx_proof(wrong, chain)


def _http_source(handler: object) -> HttpSource:
    import httpx

    client = httpx.Client(base_url="http://node", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return HttpSource("http://node", client=client)


def test_http_source_reads_bounded_answers() -> None:
    import httpx

    headers = extend(REGTEST, genesis(), 5)

    def honest(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/status":
            return httpx.Response(200, json={"height": 5, "tip": headers[-1].hash[::-1].hex()})
        start, count = int(request.url.params["from"]), int(request.url.params["count"])
        return httpx.Response(
            200, content=b"".join(h.serialize() for h in headers[start : start + count])
        )

    chain = light()
    report = follow(chain, [_http_source(honest)])
    assert chain.height == 5 and report.sources[0].status == "agrees"

    def flooding(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/status":
            return httpx.Response(200, json={"height": 5, "tip": headers[-1].hash[::-1].hex()})
        return httpx.Response(200, content=bytes(80 * 3000))  # more than asked for

    report = follow(light(), [_http_source(flooding)])
    assert report.sources[0].status == "unreachable"
    assert "answered over" in report.sources[0].detail

    def huge_status(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b" " * 100_000)

    report = follow(light(), [_http_source(huge_status)])
    assert report.sources[0].status == "unreachable"
