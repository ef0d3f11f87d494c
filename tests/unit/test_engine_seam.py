"""The consensus engine seam (issue 14): `pow` answers exactly as proof of work always did."""

from __future__ import annotations

import dataclasses

import pytest

from powchain.consensus.block_check import check_block
from powchain.consensus.engine import ENGINES, PowEngine, engine_for
from powchain.consensus.errors import Rejected
from powchain.consensus.pow import block_work
from powchain.core.block import Block
from powchain.core.params import DEVNET, REGTEST, genesis_block


def test_params_name_the_engine_and_pow_is_the_default() -> None:
    assert REGTEST.consensus == "pow"
    assert isinstance(engine_for(REGTEST), PowEngine)
    assert set(ENGINES) >= {"pow"}
    with pytest.raises(ValueError, match="unknown consensus engine 'nope'"):
        engine_for(dataclasses.replace(REGTEST, consensus="nope"))


def test_pow_weight_is_the_work_of_the_bits() -> None:
    header = genesis_block(DEVNET).header
    assert engine_for(DEVNET).weight(header) == block_work(header.bits)
    assert engine_for(DEVNET).producer == "miner"
    assert engine_for(DEVNET).finality is False


def test_trailer_is_outside_the_hash_and_round_trips() -> None:
    block = genesis_block(REGTEST)
    signed = block.with_trailer(b"\x01\x02")
    assert signed.hash == block.hash
    assert Block.parse(signed.serialize()) == signed
    assert Block.parse(block.serialize()).trailer == b""


def test_pow_refuses_any_trailer_byte() -> None:
    block = genesis_block(REGTEST).with_trailer(b"\x00")
    with pytest.raises(Rejected) as info:
        check_block(block, REGTEST)
    assert info.value.reason == "bad-blk-trailer"
    check_block(genesis_block(REGTEST), REGTEST)  # the same block without it is well formed
    assert engine_for(REGTEST).trailer_info(genesis_block(REGTEST), REGTEST) == {}
