"""Command line: every command's --help, config parsing, and wallet commands offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from powchain.cli import main
from powchain.config import default_datadir, parse_hostport

COMMANDS = [
    [],
    ["node"],
    ["devnet"],
    ["status"],
    ["block"],
    ["tx"],
    ["post"],
    ["wallet"],
    ["wallet", "create"],
    ["wallet", "list"],
    ["wallet", "address"],
    ["wallet", "balance"],
    ["wallet", "send"],
    ["wallet", "history"],
    ["mine"],
    ["peers"],
    ["peers", "list"],
    ["peers", "bans"],
    ["peers", "unban"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "powchain")
def test_help(args: list[str]) -> None:
    result = CliRunner().invoke(main, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_client_commands_start_without_the_server_stack() -> None:
    """`powchain --help`, `status`, `wallet ...` load neither FastAPI nor uvicorn (~1 s of
    imports): the command line reads the admin token through `api.cookie`, not `api.app`."""
    code = "import sys, powchain.cli; print(sorted({'fastapi', 'uvicorn'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hidden_test_knob() -> None:
    result = CliRunner().invoke(main, ["node", "--help"])
    assert "--clock-offset" not in result.output
    assert "--mining-processes" in result.output and "Examples" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("h", 1)),
        ("9000", ("h", 9000)),
        (":9000", ("h", 9000)),
        ("0.0.0.0:1", ("0.0.0.0", 1)),
        ("example.org", ("example.org", 1)),
        ("[::1]:5", ("::1", 5)),
    ],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text, "h", 1) == expected


@pytest.mark.parametrize("text", ["host:", "host:port", "h:70000", "h:-1"])
def test_parse_hostport_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hostport(text, "h", 1)


def test_default_datadir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("POWCHAIN_DATADIR", raising=False)
    assert default_datadir("devnet") == Path.home() / ".powchain" / "devnet"
    monkeypatch.setenv("POWCHAIN_DATADIR", str(tmp_path))
    assert default_datadir("devnet") == tmp_path


def test_wallet_create_list_address(tmp_path: Path) -> None:
    runner = CliRunner(env={"POWCHAIN_WALLET_PASSPHRASE": "pw"})
    base = ["--network", "devnet", "--datadir", str(tmp_path)]
    first = runner.invoke(main, ["wallet", "create", *base])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["wallet", "create", "--name", "spare", *base])
    assert second.exit_code == 0, second.output
    listed = runner.invoke(main, ["wallet", "list", *base])
    names = [line.split("\t")[0] for line in listed.output.splitlines() if "\t" in line]
    assert names == ["default", "spare"]
    addr = runner.invoke(main, ["wallet", "address", "--key", "spare", *base]).output.strip()
    assert addr.startswith("dpow1") and addr in listed.output
    clash = runner.invoke(main, ["wallet", "create", "--name", "spare", *base])
    assert clash.exit_code == 1 and "already exists" in clash.output
    wrong = CliRunner(env={"POWCHAIN_WALLET_PASSPHRASE": "nope"})
    bad = wrong.invoke(main, ["wallet", "list", *base])
    assert bad.exit_code == 1 and "wrong passphrase" in bad.output


def test_send_validates_before_any_network(tmp_path: Path) -> None:
    runner = CliRunner(env={"POWCHAIN_WALLET_PASSPHRASE": "pw"})
    base = ["--network", "regtest", "--datadir", str(tmp_path), "--node", "http://127.0.0.1:9"]
    runner.invoke(main, ["wallet", "create", *base])
    bad_amount = runner.invoke(main, ["wallet", "send", "rpow1xyz", "1.123456789", *base])
    assert bad_amount.exit_code == 2 and "8 decimal" in bad_amount.output
    bad_addr = runner.invoke(main, ["wallet", "send", "dpow1xyz", "1", *base])
    assert bad_addr.exit_code == 2 and "ADDRESS" in bad_addr.output
    unreachable = runner.invoke(main, ["status", *base])
    assert (
        unreachable.exit_code == 1 and "no node answers at http://127.0.0.1:9" in unreachable.output
    )
    bad_txid = runner.invoke(main, ["tx", "abc", *base])
    assert bad_txid.exit_code == 2
