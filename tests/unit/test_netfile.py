"""Network files (issue 6): round trips, refusals with their reason, allocations and supply."""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from powchain.config import (
    build_node_config,
    create_network,
    load_network_file,
    mine_genesis,
    resolve_datadir,
    write_network_file,
)
from powchain.consensus.block_verify import connect_block
from powchain.consensus.netfile import (
    CONSENSUS_KEYS,
    GENESIS_KEYS,
    MAX_GENESIS_SECONDS,
    NETWORK_KEYS,
    NetworkFile,
    NetworkFileError,
    from_document,
    genesis_bits_for,
    genesis_message_for,
    max_supply,
    new_params,
    to_document,
    total_subsidy,
)
from powchain.consensus.pow import bits_to_target
from powchain.consensus.state import EMPTY_ACCOUNT, AccountState
from powchain.core.keys import encode_address, xonly_pubkey
from powchain.core.params import BITCOIN_MAINNET, DEVNET, ChainParams, genesis_block
from powchain.core.units import COIN, MAX_MONEY

ALICE = xonly_pubkey(b"\x11" * 32)
BOB = xonly_pubkey(b"\x22" * 32)
TRIVIAL = 0x207FFFFF  # instant genesis mining for tests that do not need real work


def quick_network(**values: Any) -> NetworkFile:
    """A mined file network with trivial proof of work (milliseconds to create)."""
    values.setdefault("pow_limit_bits", TRIVIAL)
    values.setdefault("genesis_bits", TRIVIAL)
    values.setdefault("genesis_allocations", ((ALICE, 1_000 * COIN), (BOB, 5 * COIN)))
    seeds = values.pop("seeds", ("10.0.0.2:48744", "node3.example:48744"))
    params = new_params("lab-net", 0x1234_5678, b"\x01\x02\x03\x04", 1_800_000_000, **values)
    return NetworkFile(mine_genesis(params), seeds)


@pytest.fixture(scope="module")
def real() -> NetworkFile:
    """A network created as the CLI does: random identity, now, real genesis work (1 s blocks)."""
    alice = encode_address("lab", ALICE)
    return create_network("lab", ((alice, 250 * COIN),), ("10.0.0.2:48744",), target_spacing=1)


def toml_round_trip(doc: dict[str, Any]) -> dict[str, Any]:
    return tomllib.loads(tomli_w.dumps(doc))


def refusal(doc: dict[str, Any]) -> str:
    with pytest.raises(NetworkFileError) as info:
        from_document(doc)
    return info.value.reason


# -- round trips ---------------------------------------------------------------------------------


def test_every_chainparams_field_is_in_the_file() -> None:
    fields = {f.name for f in dataclasses.fields(ChainParams)}
    in_file = set(NETWORK_KEYS) | set(CONSENSUS_KEYS) | set(GENESIS_KEYS.values())
    assert fields == in_file


def test_document_round_trips_through_toml() -> None:
    network = quick_network()
    doc = toml_round_trip(to_document(network))
    assert doc["network"]["magic"] == "01020304"
    assert doc["genesis"]["allocations"] == [
        {"address": encode_address("labnet", ALICE), "amount": 1_000 * COIN},
        {"address": encode_address("labnet", BOB), "amount": 5 * COIN},
    ]
    assert from_document(doc) == network


def test_file_round_trips_on_disk(tmp_path: Path, real: NetworkFile) -> None:
    path = tmp_path / "lab.toml"
    write_network_file(path, real)
    assert path.read_text().startswith("# powchain network file")
    assert load_network_file(path) == real
    with pytest.raises(FileExistsError):
        write_network_file(path, real)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    amounts=st.lists(st.integers(1, 10_000 * COIN), max_size=6),
    seeds=st.lists(st.from_regex(r"[a-z][a-z0-9.-]{0,20}:[1-9][0-9]{0,3}", fullmatch=True)),
    spacing=st.integers(1, 600),
)
def test_round_trip_any_allocations_and_seeds(
    amounts: list[int], seeds: list[str], spacing: int
) -> None:
    keys = [xonly_pubkey(bytes([i + 1]) * 32) for i in range(len(amounts))]
    network = quick_network(
        genesis_allocations=tuple(zip(keys, amounts, strict=True)),
        seeds=tuple(seeds),
        target_spacing=spacing,
    )
    assert from_document(toml_round_trip(to_document(network))) == network


def test_created_network_is_real(real: NetworkFile) -> None:
    p = real.params
    assert (p.name, p.hrp, p.target_spacing, p.daa) == ("lab", "lab", 1, "asert-bounded")
    assert (p.max_future_block_time, p.half_life) == (60, 31)  # 60 + 2 * 1 <= 2 * 31
    assert p.genesis_bits == genesis_bits_for(1)
    assert p.genesis_message == genesis_message_for(p)
    assert genesis_block(p).header.hash_hex == p.genesis_hash_hex
    assert int(p.genesis_hash_hex, 16) <= bits_to_target(p.genesis_bits)
    assert p.chain_id not in (DEVNET.chain_id, 0) and len(p.magic) == 4
    assert p.mine_on_demand and real.seeds == ("10.0.0.2:48744",)


def test_genesis_bits_follow_the_block_time() -> None:
    two_seconds = bits_to_target(genesis_bits_for(2))
    assert (1 << 256) // two_seconds == pytest.approx(700_000, rel=0.01)  # 2 s at 350k/s
    assert genesis_bits_for(600) == genesis_bits_for(MAX_GENESIS_SECONDS)
    # never easier than the pow limit
    assert genesis_bits_for(1, pow_limit_bits=0x1D00FFFF) == 0x1D00FFFF


# -- refusals -----------------------------------------------------------------------------------


def test_tampered_genesis_nonce_is_refused(real: NetworkFile) -> None:
    doc = to_document(real)
    doc["genesis"]["nonce"] ^= 1
    reason = refusal(doc)
    assert reason.startswith(f"genesis.hash is {real.params.genesis_hash_hex} but the genesis")
    assert "the file was edited" in reason


def test_tampered_genesis_hash_is_refused(real: NetworkFile) -> None:
    doc = to_document(real)
    doc["genesis"]["hash"] = "00" * 32
    assert refusal(doc).startswith(f"genesis.hash is {'00' * 32} but")


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("consensus", "target_spacing", 2),
        ("consensus", "initial_subsidy", 60 * COIN),
        ("consensus", "coinbase_maturity", 5),
        ("network", "name", "lab-two"),
        ("network", "chain_id", 7),
    ],
)
def test_edited_parameter_breaks_the_genesis_commitment(
    real: NetworkFile, section: str, key: str, value: object
) -> None:
    doc = to_document(real)
    doc[section][key] = value
    assert "the file was edited after the network was created" in refusal(doc)


def test_edit_with_a_recomputed_commitment_and_hash_lacks_the_work(real: NetworkFile) -> None:
    """A forger who also fixes the message and hash still needs the proof of work."""
    forged = dataclasses.replace(real.params, coinbase_maturity=5)
    forged = dataclasses.replace(forged, genesis_message=genesis_message_for(forged))
    forged = dataclasses.replace(forged, genesis_hash_hex=genesis_block(forged).header.hash_hex)
    assert refusal(to_document(NetworkFile(forged))).startswith("genesis: high-hash")


def test_ports_seeds_and_on_demand_mining_stay_editable(real: NetworkFile) -> None:
    doc = to_document(real)
    doc["network"].update(p2p_port=9000, api_port=9001, mine_on_demand=False, seeds=[])
    edited = from_document(doc)
    assert (edited.params.p2p_port, edited.params.mine_on_demand, edited.seeds) == (9000, False, ())
    assert edited.params.genesis_hash_hex == real.params.genesis_hash_hex


@pytest.mark.parametrize(
    ("section", "key", "value", "expected"),
    [
        ("consensus", "target_spacing", 0, "consensus.target_spacing = 0 is out of range [1,"),
        ("consensus", "half_life", 5, "consensus.half_life = 5 is out of range [10,"),
        ("consensus", "max_block_size", 5_000_000, "consensus.max_block_size = 5000000 is out"),
        ("consensus", "max_tx_data", 0, "consensus.max_tx_data = 0 is out of range"),
        ("consensus", "max_post_text", 7_000, "consensus.max_post_text must be below"),
        ("consensus", "coinbase_maturity", 0, "consensus.coinbase_maturity = 0 is out of range"),
        ("consensus", "median_time_span", 10, "consensus.median_time_span must be odd"),
        ("consensus", "daa", "fixed", "consensus.daa = 'fixed': file networks use 'asert-bounded'"),
        ("consensus", "pow_limit_bits", 0x2100FFFF, "consensus.pow_limit_bits is easier"),
        ("consensus", "pow_limit_bits", 0x04923456, "consensus.pow_limit_bits: "),
        ("consensus", "initial_subsidy", MAX_MONEY + 1, "consensus.initial_subsidy = "),
        ("network", "name", "regtest", "network.name 'regtest' is a built-in network's name"),
        ("network", "name", "Lab!", "network.name 'Lab!' must be 2 to 32 characters"),
        ("network", "name", "x" * 33, "must be 2 to 32 characters"),
        ("network", "hrp", "dpow", "network.hrp 'dpow' is devnet's address prefix"),
        ("network", "hrp", "LAB", "network.hrp 'LAB' (address prefix) must be"),
        ("network", "magic", "64706f77", "network.magic 64706f77 is devnet's magic"),
        ("network", "magic", "0102", "network.magic '0102' must be 8 hex digits"),
        ("network", "chain_id", DEVNET.chain_id, f"network.chain_id {DEVNET.chain_id} is devnet"),
        ("network", "p2p_port", 70_000, "network.p2p_port = 70000 is out of range"),
        ("network", "seeds", ["10.0.0.2"], "network.seeds: '10.0.0.2' is not HOST:PORT"),
        ("network", "seeds", "10.0.0.2:1", "network.seeds must be a list"),
        ("network", "chain_id", True, "network.chain_id must be an integer, not True"),
        ("network", "mine_on_demand", 1, "network.mine_on_demand must be true or false, not 1"),
        ("genesis", "time", "now", "genesis.time must be an integer, not 'now'"),
    ],
)
def test_out_of_range_or_malformed_value_is_refused_with_its_reason(
    section: str, key: str, value: object, expected: str
) -> None:
    doc = to_document(quick_network())
    doc[section][key] = value
    assert expected in refusal(doc)


def test_structural_problems_are_named() -> None:
    good = to_document(quick_network())
    cases: list[tuple[Any, str]] = [
        (lambda d: d.update(format="other"), "format must be 'powchain-network/1'"),
        (lambda d: d.update(extra=1), "unknown key extra"),
        (lambda d: d.pop("consensus"), "missing table [consensus]"),
        (lambda d: d["consensus"].update(half_lfe=600), "unknown key consensus.half_lfe"),
        (lambda d: d["consensus"].pop("half_life"), "missing key consensus.half_life"),
        (lambda d: d["genesis"].update(allocations={}), "genesis.allocations must be a list"),
    ]
    for mutate, expected in cases:
        doc = copy.deepcopy(good)
        mutate(doc)
        assert expected in refusal(doc)


def test_bad_allocations_are_refused() -> None:
    good = to_document(quick_network())
    alice = encode_address("labnet", ALICE)
    cases = [
        ([{"address": encode_address("dpow", ALICE), "amount": 1}], "genesis.allocations: 'dpow1"),
        ([{"address": alice, "amount": 0}], f"genesis.allocations: amount 0 for {alice}"),
        ([{"address": alice, "amount": 1}] * 2, f"genesis.allocations: {alice} is listed twice"),
        ([{"address": alice}], "is not {address, amount}"),
        ([{"address": alice, "amount": "1"}], "genesis.allocations.amount must be an integer"),
    ]
    for allocations, expected in cases:
        doc = copy.deepcopy(good)
        doc["genesis"]["allocations"] = allocations
        assert expected in refusal(doc)


def test_unreadable_and_invalid_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(NetworkFileError, match=r"missing.toml: cannot read it"):
        load_network_file(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text("format = \n")
    with pytest.raises(NetworkFileError, match=r"broken.toml: not valid TOML"):
        load_network_file(broken)
    edited = tmp_path / "edited.toml"
    write_network_file(edited, quick_network())
    edited.write_text(edited.read_text().replace("target_spacing = 10", "target_spacing = 12"))
    with pytest.raises(NetworkFileError, match=r"edited.toml: the parameters differ"):
        load_network_file(edited)


def test_rule_specific_half_life_and_future_limit() -> None:
    """asert-bounded: future + 2 * spacing <= 2 * half_life (the catch-up bound), half-life of
    at least 2 block times; asert (files made before issue 10): a half-life of 10 block times."""
    new = lambda **v: new_params("lab-net", 0x1234_5678, b"\x01\x02\x03\x04", 1, **v)  # noqa: E731
    assert new(target_spacing=10, half_life=40, max_future_block_time=60).half_life == 40
    with pytest.raises(NetworkFileError, match="max_future_block_time = 61 s allows more catch"):
        new(target_spacing=10, half_life=40, max_future_block_time=61)
    with pytest.raises(NetworkFileError, match="half_life = 19 s must be at least 2 block times"):
        new(target_spacing=10, half_life=19)
    with pytest.raises(NetworkFileError, match="half_life = 59 s must be at least 10 block times"):
        new(target_spacing=10, half_life=59, daa="asert")
    assert new(target_spacing=10, half_life=600, daa="asert").daa == "asert"


def test_network_file_made_before_issue_10_still_loads() -> None:
    """A file naming `asert` (the rule before issue 10) keeps loading and keeps its rule."""
    old = quick_network(daa="asert", half_life=600, max_future_block_time=7_200)
    assert from_document(toml_round_trip(to_document(old))).params.daa == "asert"


def test_creation_refuses_bad_values_before_mining() -> None:
    with pytest.raises(NetworkFileError, match="max_future_block_time = 60 s allows more catch"):
        create_network("lab", target_spacing=2, half_life=15)
    typo = encode_address("lab", ALICE)[:-1] + "q"
    with pytest.raises(NetworkFileError, match=f"--allocate {typo}: not a valid bech32m address"):
        create_network("lab", ((typo, COIN),))
    with pytest.raises(NetworkFileError, match="network.name 'devnet' is a built-in"):
        create_network("devnet")
    with pytest.raises(NetworkFileError, match="network.seeds: 'nowhere' is not HOST:PORT"):
        create_network("lab", seeds=("nowhere",), pow_limit_bits=TRIVIAL, genesis_bits=TRIVIAL)


# -- allocations, supply, node configuration -----------------------------------------------------


class Empty:
    def get_account(self, pubkey: bytes) -> AccountState:
        return EMPTY_ACCOUNT

    def get_coinbase(self, height: int) -> tuple[bytes, int] | None:
        return None


def test_allocations_are_spendable_balances_at_height_zero() -> None:
    params = quick_network().params
    overlay, fees = connect_block(genesis_block(params), 0, Empty(), params)
    assert dict(overlay.changes()) == {
        ALICE: AccountState(balance=1_000 * COIN),
        BOB: AccountState(balance=5 * COIN),
    }
    assert fees == 0


def test_allocations_count_toward_the_supply_limit() -> None:
    params = quick_network().params
    # 50 coins halving every 100,000 blocks (height 0 pays nothing): just under 10M coins
    eras = sum((50 * COIN >> era) * 100_000 for era in range(64))
    assert total_subsidy(params) == eras - 50 * COIN
    assert 9_999_900 * COIN < total_subsidy(params) < 10_000_000 * COIN
    assert max_supply(params) == 1_005 * COIN + total_subsidy(params) <= MAX_MONEY
    bitcoin_like = dataclasses.replace(params, halving_interval=210_000)
    assert total_subsidy(bitcoin_like) == 2_099_999_997_690_000 - 50 * COIN
    assert total_subsidy(BITCOIN_MAINNET) == total_subsidy(bitcoin_like)
    room = MAX_MONEY - total_subsidy(params)
    quick_network(genesis_allocations=((ALICE, room),))  # exactly at the limit: fine
    with pytest.raises(NetworkFileError, match=r"exceed the 21,000,000-coin limit"):
        quick_network(genesis_allocations=((ALICE, room), (BOB, 1)))


def test_node_reports_allocations_at_height_zero(tmp_path: Path) -> None:
    from powchain.node.node import Node, NodeConfig

    params = quick_network().params
    node = Node(NodeConfig(params=params, datadir=tmp_path / "n"))
    node.open()
    try:
        assert node.tip.height == 0 and node.tip.hash.hex() != ""
        assert node.account_info(ALICE).balance == 1_000 * COIN
        assert node.account_info(BOB).balance == 5 * COIN
        assert node.account_info(xonly_pubkey(b"\x33" * 32)).balance == 0
    finally:
        node.close()


def test_node_config_from_a_network_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real: NetworkFile
) -> None:
    monkeypatch.delenv("POWCHAIN_DATADIR", raising=False)
    assert resolve_datadir(None, real.params.name) == Path.home() / ".powchain" / "lab"
    config = build_node_config(
        "regtest", tmp_path, None, None, ("10.0.0.2:48744", "10.0.0.3:48744"), False, None, 1,
        network_file=real,
    )  # fmt: skip
    assert config.params == real.params
    assert config.connect == ["10.0.0.2:48744", "10.0.0.3:48744"]  # the seed only once
    assert (config.p2p_port, config.api_port) == (48_744, 48_745)
