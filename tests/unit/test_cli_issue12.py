"""Command line after issue 12: coins in every human-facing line, send edge cases refused
with their reason before any network, the address without the passphrase, wrong-node hints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from powchain.cli import main
from powchain.cli.common import coins_view, humanize
from powchain.consensus.errors import Kind, Rejected
from powchain.core.params import REGTEST
from powchain.core.transaction import TX_VERSION, Transaction
from powchain.policy.fees import check_min_relay_fee, check_replacement

BASE_UNITS = re.compile(r"(?<![.\d])\d{4,}(?![.\d])")  # an integer of 4+ digits, not coins


def test_humanize_the_nodes_messages() -> None:
    assert humanize("sender holds 2349999342 units, needs 100000000000316") == (
        "sender holds 23.49999342 coins, needs 1000000.00000316 coins"
    )
    assert humanize("sender holds 5 units, its queue up to this nonce needs 12") == (
        "sender holds 0.00000005 coins, its queue up to this nonce needs 0.00000012 coins"
    )
    assert humanize("nothing about money, nonce 8, 200 bytes") == (
        "nothing about money, nonce 8, 200 bytes"
    )


def _tx(fee: int) -> Transaction:
    return Transaction(
        TX_VERSION, REGTEST.chain_id, 8, bytes(32), bytes(32), 1, fee, b"", bytes(64)
    )


def test_humanize_real_rejections_leaves_no_base_units() -> None:
    """The policy's own messages (not copies of them) come out in coins."""
    messages = []
    for check in (
        lambda: check_min_relay_fee(_tx(1)),
        lambda: check_replacement(_tx(20_000), _tx(20_001)),
    ):
        with pytest.raises(Rejected) as caught:
            check()
        assert caught.value.kind is Kind.POLICY
        messages.append(humanize(caught.value.message))
    assert all("coins" in m and not BASE_UNITS.search(m) for m in messages), messages
    assert "nonce 8" in messages[1]


def test_coins_view_formats_money_fields_only() -> None:
    answer = {"amount": 25_000_000_000, "fee": 2_000, "nonce": 3, "size": 180, "coinbase": False}
    shown = coins_view({"txs": [answer], "height": 12})
    assert shown == {
        "txs": [
            {
                "amount": "250.00000000",
                "fee": "0.00002000",
                "nonce": 3,
                "size": 180,
                "coinbase": False,
            }
        ],
        "height": 12,
    }


@pytest.fixture
def wallet_dir(tmp_path: Path) -> tuple[CliRunner, list[str]]:
    runner = CliRunner(env={"POWCHAIN_WALLET_PASSPHRASE": "pw"})
    base = ["--network", "regtest", "--datadir", str(tmp_path), "--node", "http://127.0.0.1:9"]
    assert runner.invoke(main, ["wallet", "create", *base]).exit_code == 0
    return runner, base


ADDR = "rpow1" + "q" * 58


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-1"], "an amount is a positive number of coins, not -1"),
        (["0"], "a payment of 0 coins moves nothing"),
        (["0.00000000"], "a payment of 0 coins moves nothing"),
        ([], "give the AMOUNT in coins (or --all for the whole balance)"),
        (["1", "--all"], "give either AMOUNT or --all, not both"),
    ],
)
def test_send_amount_edge_cases(
    wallet_dir: tuple[CliRunner, list[str]], args: list[str], expected: str
) -> None:
    runner, base = wallet_dir
    result = runner.invoke(main, ["wallet", "send", ADDR, *args, *base])
    assert result.exit_code in (1, 2), result.output
    assert expected in " ".join(result.output.split()), result.output
    assert "No such option" not in result.output


def test_empty_post_is_refused(wallet_dir: tuple[CliRunner, list[str]]) -> None:
    runner, base = wallet_dir
    result = runner.invoke(main, ["post", "  ", *base])
    assert result.exit_code == 2 and "a post needs some text" in result.output


def test_wallet_address_needs_no_passphrase(wallet_dir: tuple[CliRunner, list[str]]) -> None:
    _, base = wallet_dir
    created = CliRunner(env={"POWCHAIN_WALLET_PASSPHRASE": "pw"}).invoke(
        main, ["wallet", "list", *base]
    )
    listed = created.output.split("\t")[1].strip()
    bare = CliRunner(env={"POWCHAIN_WALLET_PASSPHRASE": ""})  # a prompt would read nothing
    result = bare.invoke(main, ["wallet", "address", *base], input="")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == listed
    assert "passphrase" not in result.output.lower()


def test_plain_status_hints_at_the_default_port(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["status", "--datadir", str(tmp_path)])
    if result.exit_code == 0:
        pytest.skip("a regtest node runs on this machine's default port")
    assert "the default API address of regtest" in result.output
    assert "--network NAME or --node URL" in result.output
