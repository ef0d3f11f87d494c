"""`powchain network create` and `--network-file` on the command line (no node needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from powchain.cli import main
from powchain.config import load_network_file
from powchain.core.keys import decode_address, encode_address, xonly_pubkey
from powchain.core.units import COIN

ALICE = xonly_pubkey(b"\x11" * 32)
ALICE_RPOW = encode_address("rpow", ALICE)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    for name in ("POWCHAIN_NETWORK_FILE", "POWCHAIN_NETWORK", "POWCHAIN_DATADIR"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def create(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(main, ["network", "create", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_help_of_the_new_commands(runner: CliRunner) -> None:
    for args in (["network"], ["network", "create"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output
    for command in ("node", "devnet", "status", "block", "tx", "post", "faucet"):
        assert "--network-file" in runner.invoke(main, [command, "--help"]).output, command
    assert "--network-file" in runner.invoke(main, ["wallet", "send", "--help"]).output


def test_create_writes_a_file_that_loads(runner: CliRunner) -> None:
    alice = encode_address("lab", ALICE)
    output = create(
        runner, "lab", "--block-time", "1", "--half-life", "40", "--subsidy", "25",
        "--halving-interval", "5000", "--coinbase-maturity", "3", "--max-block-size", "200000",
        "--max-tx-data", "1000", "--allocate", f"{alice}=1234.5", "--seed", "10.0.0.2:48744",
        "--p2p-port", "9100", "--api-port", "9101",
    )  # fmt: skip
    network = load_network_file(Path("lab.toml"))
    p = network.params
    assert f"genesis {p.genesis_hash_hex}\n" in output
    assert "network lab written to lab.toml" in output
    assert (p.target_spacing, p.half_life, p.initial_subsidy, p.halving_interval) == (
        1, 40, 25 * COIN, 5_000
    )  # fmt: skip
    assert (p.coinbase_maturity, p.max_block_size, p.max_tx_data, p.max_post_text) == (
        3, 200_000, 1_000, 999
    )  # fmt: skip
    assert (p.p2p_port, p.api_port, p.hrp) == (9100, 9101, "lab")
    assert p.genesis_allocations == ((ALICE, 123_450_000_000),)
    assert network.seeds == ("10.0.0.2:48744",)
    assert decode_address(alice, p.hrp) == ALICE


def test_allocation_to_an_address_of_another_prefix_funds_the_same_key(runner: CliRunner) -> None:
    """A wallet made before the network existed (its address under, say, rpow) can be funded."""
    output = create(runner, "lab", "--block-time", "1", "--allocate", f"{ALICE_RPOW}=2")
    params = load_network_file(Path("lab.toml")).params
    assert params.genesis_allocations == ((ALICE, 2 * COIN),)
    assert f"allocation {encode_address('lab', ALICE)} 2.00000000 coins" in output
    assert f'address = "{encode_address("lab", ALICE)}"' in Path("lab.toml").read_text()


def test_each_network_is_new(runner: CliRunner) -> None:
    create(runner, "lab", "--block-time", "1", "--out", "a.toml")
    create(runner, "lab", "--block-time", "1", "--out", "b.toml")
    a, b = (load_network_file(Path(f)).params for f in ("a.toml", "b.toml"))
    assert a.chain_id != b.chain_id and a.magic != b.magic
    assert a.genesis_hash_hex != b.genesis_hash_hex


def test_create_refusals(runner: CliRunner) -> None:
    create(runner, "lab", "--block-time", "1")
    cases = [
        (["lab", "--block-time", "1"], "lab.toml exists (use --force to overwrite it)"),
        (["testnet", "--out", "t.toml"], "network.name 'testnet' is a built-in network's name"),
        (["x2", "--block-time", "0"], "consensus.target_spacing = 0 is out of range"),
        (["x2", "--block-time", "5", "--half-life", "20"], "60 s allows more catch-up"),
        (["x2", "--half-life", "40", "--future-limit", "61"], "61 s allows more catch-up"),
        (["x2", "--address-prefix", "rpow"], "network.hrp 'rpow' is regtest's address prefix"),
        (["x2", "--allocate", "nonsense"], "'nonsense' is not ADDRESS=COINS"),
        (["x2", "--allocate", "x2qq=1.5"], "--allocate x2qq: "),
        (["x2", "--allocate", f"{encode_address('x', ALICE)[:-1]}q=1"], "--allocate x1"),
        (["x2", "--seed", "host-without-port"], "'host-without-port' is not HOST:PORT"),
    ]
    for args, expected in cases:
        result = runner.invoke(main, ["network", "create", *args])
        assert result.exit_code != 0, args
        assert expected in result.output, (args, result.output)
    assert sorted(os.listdir()) == ["lab.toml"]
    create(runner, "lab", "--block-time", "1", "--force")


def test_commands_refuse_an_edited_file(runner: CliRunner) -> None:
    create(runner, "lab", "--block-time", "1")
    text = Path("lab.toml").read_text()
    Path("lab.toml").write_text(text.replace("coinbase_maturity = 20", "coinbase_maturity = 2"))
    for args in (["node"], ["status"], ["wallet", "balance"], ["devnet", "--nodes", "1"]):
        result = runner.invoke(main, [*args, "--network-file", "lab.toml"])
        assert result.exit_code == 1, (args, result.output)
        assert "network file lab.toml: the parameters differ from those the genesis" in (
            result.output
        )
    assert not Path("lab-data").exists()  # devnet refused before creating anything


def test_network_and_network_file_together(runner: CliRunner) -> None:
    create(runner, "lab", "--block-time", "1")
    both = runner.invoke(main, ["status", "--network", "devnet", "--network-file", "lab.toml"])
    assert both.exit_code == 2 and "use either --network or --network-file" in both.output
    # a --network on the command line beats a network file from the environment
    env = {"POWCHAIN_NETWORK_FILE": "missing.toml", "POWCHAIN_WALLET_PASSPHRASE": "x"}
    result = runner.invoke(main, ["wallet", "address", "--network", "devnet"], env=env)
    assert "missing.toml" not in result.output
    result = runner.invoke(main, ["wallet", "address"], env=env)
    assert "network file missing.toml: cannot read it" in result.output
