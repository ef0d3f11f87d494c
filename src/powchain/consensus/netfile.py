"""Network files: a private network's identity as a TOML-shaped document, and its checks. Pure.

A network file (issue 6) holds every `ChainParams` value, the seed peers, the genesis
allocations and the genesis header fields with the genesis hash. `to_document(nf)` gives the
dict that `config` writes as TOML; `from_document(doc)` parses and validates one back into a
`NetworkFile`, raising `NetworkFileError` with a message naming the offending key.

The genesis coinbase message commits to the identity and every consensus parameter
(`genesis_message_for`), so the genesis hash stands for the whole file: editing a committed
value or a genesis field makes the file refuse to load. Ports, seeds and `mine_on_demand` are
per-node conveniences outside the commitment and stay editable.

This module lives in `consensus` because its checks need the proof-of-work and subsidy rules;
it does no I/O: randomness (chain id, magic), the clock (genesis time) and the genesis nonce
search belong to the caller (`config`), which passes them in as values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.hashing import tagged_hash
from ..core.keys import AddressError, decode_address, encode_address
from ..core.params import BITCOIN_MAINNET, NETWORKS, ChainParams, genesis_block
from ..core.units import COIN, MAX_MONEY, format_coins
from .errors import Rejected
from .pow import BOUNDED_SOLVE_CAP, bits_to_target, check_proof_of_work, target_to_bits
from .subsidy import MAX_HALVINGS, block_subsidy

__all__ = [
    "FORMAT",
    "NetworkFile",
    "NetworkFileError",
    "new_params",
    "genesis_bits_for",
    "genesis_message_for",
    "check_params",
    "parse_seeds",
    "total_subsidy",
    "max_supply",
    "max_future_for",
    "half_life_for",
    "to_document",
    "from_document",
]

FORMAT = "powchain-network/1"
DEFAULT_POW_LIMIT_BITS = 0x1F0FFFFF
"""The easiest target of a file network (as devnet and testnet): ~4,096 hashes a block."""
EASIEST_BITS = 0x207FFFFF
"""No network may allow an easier target than regtest's."""
DESIGN_HASHRATE = 350_000
"""Nonces per second of one pure-Python miner process (`node.powsearch`), for the genesis."""
MAX_GENESIS_SECONDS = 30
"""Creation mines the genesis for at most ~this long; ASERT raises the difficulty from there."""
FILE_DAAS = ("asert-bounded", "asert")
"""Rules a network file may name: `asert-bounded` for new files (issue 10), `asert` for files
created before it (they keep the rule their genesis commits to)."""
MIN_FUTURE_BLOCK_TIME = 60
"""No network allows less clock skew between its nodes than this (seconds)."""
MAX_SEEDS = 64
MAX_ALLOCATIONS = 1_000
MAX_NAME = 32  # the handshake's `network` field holds at most 32 bytes
RESERVED_NAMES = frozenset(NETWORKS) | {BITCOIN_MAINNET.name}
_BUILTIN = (*NETWORKS.values(), BITCOIN_MAINNET)
_NAME = re.compile(r"[a-z][a-z0-9-]{1,31}")
_HRP = re.compile(r"[a-z][a-z0-9]{0,15}")
_SEED = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")

NETWORK_KEYS = ("name", "chain_id", "magic", "hrp", "p2p_port", "api_port", "mine_on_demand")
CONSENSUS_KEYS = (
    "daa",
    "pow_limit_bits",
    "target_spacing",
    "half_life",
    "halving_interval",
    "coinbase_maturity",
    "initial_subsidy",
    "max_block_size",
    "max_tx_data",
    "max_post_text",
    "max_coinbase_data",
    "max_future_block_time",
    "median_time_span",
    "retarget_interval",
    "retarget_timespan",
)
GENESIS_KEYS = {
    "time": "genesis_time",
    "bits": "genesis_bits",
    "nonce": "genesis_nonce",
    "message": "genesis_message",
    "hash": "genesis_hash_hex",
    "allocations": "genesis_allocations",
}
"""Key in the file's [genesis] table -> ChainParams field."""
COMMITTED = ("name", "chain_id", "magic", "hrp", *CONSENSUS_KEYS)
"""The fields the genesis message commits to (everything but ports and node conveniences)."""

RANGES: dict[str, tuple[int, int]] = {
    "chain_id": (1, 2**32 - 1),
    "p2p_port": (1, 65_535),
    "api_port": (1, 65_535),
    "pow_limit_bits": (1, 2**32 - 1),
    "target_spacing": (1, 86_400),
    "half_life": (10, 365 * 86_400),
    "halving_interval": (10, 10**9),
    "coinbase_maturity": (1, 10_000),
    "initial_subsidy": (0, MAX_MONEY),
    "max_block_size": (10_000, 4_000_000),  # a block message must stay under 4 MiB
    "max_tx_data": (1, 8_000),  # policy relays transactions of at most 10,000 bytes
    "max_post_text": (0, 7_999),
    "max_coinbase_data": (100, 1_000),
    "max_future_block_time": (60, 86_400),
    "median_time_span": (1, 101),
    "retarget_interval": (1, 100_000),
    "retarget_timespan": (1, 10**9),
    "genesis_time": (1, 2**32 - 1),
    "genesis_bits": (1, 2**32 - 1),
    "genesis_nonce": (0, 2**32 - 1),
}
"""Safe inclusive bounds of each integer parameter."""


class NetworkFileError(ValueError):
    """A network file that must not be run; `reason` says what is wrong and where."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class NetworkFile:
    """A network's params and its seed peers ("host:port" strings)."""

    params: ChainParams
    seeds: tuple[str, ...] = ()


def _where(field: str) -> str:
    """The file's name of a ChainParams field, as `section.key`."""
    if field in NETWORK_KEYS:
        return f"network.{field}"
    if field in CONSENSUS_KEYS:
        return f"consensus.{field}"
    for key, name in GENESIS_KEYS.items():
        if name == field:
            return f"genesis.{key}"
    return field


# -- creation helpers (pure; the caller brings time, randomness and the nonce search) ----------


def genesis_bits_for(target_spacing: int, pow_limit_bits: int = DEFAULT_POW_LIMIT_BITS) -> int:
    """Compact bits for a genesis taking ~`target_spacing` s (at most MAX_GENESIS_SECONDS) of
    one miner process at DESIGN_HASHRATE, never easier than `pow_limit_bits`."""
    seconds = max(1, min(target_spacing, MAX_GENESIS_SECONDS))
    target = (1 << 256) // (seconds * DESIGN_HASHRATE) - 1
    return target_to_bits(min(target, bits_to_target(pow_limit_bits)))


def max_future_for(target_spacing: int) -> int:
    """Default future-time limit of a new file network: six block times, within [60, 86,400] s."""
    return min(max(6 * target_spacing, MIN_FUTURE_BLOCK_TIME), RANGES["max_future_block_time"][1])


def half_life_for(target_spacing: int, max_future_block_time: int) -> int:
    """Default `asert-bounded` half-life: four block times, or the least that keeps the catch-up
    bound with this future-time limit (`_check_catch_up`), whichever is longer."""
    least = (max_future_block_time + BOUNDED_SOLVE_CAP * target_spacing + 1) // 2
    return max(4 * target_spacing, least, RANGES["half_life"][0])


def _commitment_text(params: ChainParams) -> bytes:
    lines = []
    for field in COMMITTED:
        value = getattr(params, field)
        lines.append(f"{field}={value.hex() if isinstance(value, bytes) else value}")
    return "\n".join(lines).encode()


def genesis_message_for(params: ChainParams) -> bytes:
    """The genesis coinbase message of a file network: a hash of its COMMITTED fields (73 B)."""
    return b"powchain/" + tagged_hash(b"powchain/network", _commitment_text(params)).hex().encode()


def new_params(
    name: str,
    chain_id: int,
    magic: bytes,
    genesis_time: int,
    **values: Any,
) -> ChainParams:
    """Params of a new network, genesis not yet mined (nonce 0, no hash).

    `values` override ChainParams fields (hrp, target_spacing, half_life, initial_subsidy,
    genesis_allocations, ...); unset ones take the file-network defaults: 10 s blocks, the
    `asert-bounded` rule with a future-time limit of `max_future_for(spacing)` and a half-life of
    `half_life_for(spacing, limit)` (40 s and 60 s for 10 s blocks), 100,000 blocks per halving,
    maturity 20, hrp from the name.
    The genesis bits follow the block time (`genesis_bits_for`). Raises NetworkFileError
    when a value is out of range (checked before any mining).
    """
    spacing = int(values.pop("target_spacing", 10))
    future = int(values.pop("max_future_block_time", max_future_for(spacing)))
    fields: dict[str, Any] = {
        "name": name,
        "chain_id": chain_id,
        "magic": magic,
        "hrp": name.replace("-", "")[:16],
        "p2p_port": 48_744,
        "api_port": 48_745,
        "daa": "asert-bounded",
        "pow_limit_bits": DEFAULT_POW_LIMIT_BITS,
        "target_spacing": spacing,
        "max_future_block_time": future,
        "half_life": half_life_for(spacing, future),
        "halving_interval": 100_000,
        "coinbase_maturity": 20,
        "genesis_time": genesis_time,
        "genesis_bits": 0,
        "genesis_nonce": 0,
        "genesis_message": b"",
        "mine_on_demand": True,
    }
    fields.update(values)
    if "genesis_bits" not in values:
        fields["genesis_bits"] = genesis_bits_for(spacing, int(fields["pow_limit_bits"]))
    params = ChainParams(**fields)
    params = dataclasses.replace(params, genesis_message=genesis_message_for(params))
    check_params(params, mined=False)
    return params


# -- checks ------------------------------------------------------------------------------------


def total_subsidy(params: ChainParams) -> int:
    """Units that all block subsidies ever pay (height 0 pays none)."""
    total = 0
    for era in range(MAX_HALVINGS):
        blocks = params.halving_interval - (1 if era == 0 else 0)
        total += block_subsidy(max(era * params.halving_interval, 1), params) * blocks
    return total


def max_supply(params: ChainParams) -> int:
    """Every unit that can ever exist on the network: genesis allocations plus subsidies."""
    return sum(amount for _, amount in params.genesis_allocations) + total_subsidy(params)


def _check_identity(params: ChainParams) -> None:
    if not _NAME.fullmatch(params.name):
        raise NetworkFileError(
            f"network.name {params.name!r} must be 2 to {MAX_NAME} characters: lowercase "
            "letters, digits and '-', starting with a letter"
        )
    if params.name in RESERVED_NAMES:
        raise NetworkFileError(f"network.name {params.name!r} is a built-in network's name")
    if not _HRP.fullmatch(params.hrp):
        raise NetworkFileError(
            f"network.hrp {params.hrp!r} (address prefix) must be 1 to 16 lowercase letters "
            "and digits, starting with a letter"
        )
    for other in _BUILTIN:
        if params.hrp == other.hrp:
            raise NetworkFileError(f"network.hrp {params.hrp!r} is {other.name}'s address prefix")
        if params.magic == other.magic:
            raise NetworkFileError(f"network.magic {params.magic.hex()} is {other.name}'s magic")
        if params.chain_id == other.chain_id:
            raise NetworkFileError(f"network.chain_id {params.chain_id} is {other.name}'s")
    if len(params.magic) != 4:
        raise NetworkFileError("network.magic must be 4 bytes (8 hex digits)")


def _check_ranges(params: ChainParams) -> None:
    for field, (low, high) in RANGES.items():
        value = getattr(params, field)
        if not low <= value <= high:
            raise NetworkFileError(f"{_where(field)} = {value} is out of range [{low}, {high}]")
    if params.daa not in FILE_DAAS:
        raise NetworkFileError(
            f"consensus.daa = {params.daa!r}: file networks use 'asert-bounded' ('asert' in "
            "files made before it)"
        )
    if params.max_post_text >= params.max_tx_data:
        raise NetworkFileError("consensus.max_post_text must be below consensus.max_tx_data")
    if params.median_time_span % 2 == 0:
        raise NetworkFileError("consensus.median_time_span must be odd")
    try:
        limit = bits_to_target(params.pow_limit_bits)
    except Rejected as exc:
        raise NetworkFileError(f"consensus.pow_limit_bits: {exc.message or exc.reason}") from exc
    if limit > bits_to_target(EASIEST_BITS):
        raise NetworkFileError("consensus.pow_limit_bits is easier than regtest's trivial target")


def _check_daa(params: ChainParams) -> None:
    """The half-life and future-time limit the file's difficulty rule needs."""
    if params.daa == "asert-bounded":
        _check_catch_up(params)
    elif params.half_life < 10 * params.target_spacing:
        raise NetworkFileError(
            f"consensus.half_life = {params.half_life} s must be at least 10 block times "
            f"({10 * params.target_spacing} s)"
        )


def _check_catch_up(params: ChainParams) -> None:
    """`asert-bounded`'s bound: at most 2 * half_life / spacing blocks ahead of schedule needs
    (cap - 1) + future / spacing + 1 <= 2 * half_life / spacing (docs/spec.md §4), i.e.
    future + cap * spacing <= 2 * half_life; and a half-life of at least two block times."""
    spacing, half_life = params.target_spacing, params.half_life
    if half_life < 2 * spacing:
        raise NetworkFileError(
            f"consensus.half_life = {half_life} s must be at least 2 block times ({2 * spacing} s)"
        )
    most = 2 * half_life - BOUNDED_SOLVE_CAP * spacing
    if params.max_future_block_time > most:
        raise NetworkFileError(
            f"consensus.max_future_block_time = {params.max_future_block_time} s allows more "
            f"catch-up than the half-life bounds: at most 2 * half_life - "
            f"{BOUNDED_SOLVE_CAP} * target_spacing = {most} s (or a longer half_life)"
        )


def _check_allocations(params: ChainParams) -> None:
    allocations = params.genesis_allocations
    if len(allocations) > MAX_ALLOCATIONS:
        raise NetworkFileError(f"genesis.allocations: more than {MAX_ALLOCATIONS} entries")
    seen: set[bytes] = set()
    for pubkey, amount in allocations:
        address = encode_address(params.hrp, pubkey)
        if not 0 < amount <= MAX_MONEY:
            raise NetworkFileError(f"genesis.allocations: amount {amount} for {address}")
        if pubkey in seen:
            raise NetworkFileError(f"genesis.allocations: {address} is listed twice")
        seen.add(pubkey)
    supply = max_supply(params)
    if supply > MAX_MONEY:
        allocated = supply - total_subsidy(params)
        raise NetworkFileError(
            f"genesis.allocations ({format_coins(allocated)} coins) plus every block subsidy "
            f"({format_coins(total_subsidy(params))} coins) exceed the "
            f"{MAX_MONEY // COIN:,}-coin limit: allocate less, or lower the subsidy or "
            "halving interval"
        )


def _check_genesis(params: ChainParams) -> None:
    if params.genesis_message != genesis_message_for(params):
        raise NetworkFileError(
            "the parameters differ from those the genesis block commits to (genesis.message): "
            "the file was edited after the network was created; use the original file"
        )
    block = genesis_block(params)
    if block.header.hash_hex != params.genesis_hash_hex:
        raise NetworkFileError(
            f"genesis.hash is {params.genesis_hash_hex or '(empty)'} but the genesis block "
            f"this file describes hashes to {block.header.hash_hex}: the file was edited"
        )
    try:
        check_proof_of_work(block.header, params)
    except Rejected as exc:
        raise NetworkFileError(f"genesis: {exc.reason}: {exc.message}") from exc
    if block.size > params.max_block_size:
        raise NetworkFileError("genesis: the allocations do not fit in one block")


def check_params(params: ChainParams, *, mined: bool = True) -> None:
    """Refuse params a node must not run: identity, safe ranges, allocations and supply, (when
    `mined`) the genesis commitment, hash and proof of work, and the difficulty rule's
    half-life and future-time limit (`_check_daa`). Raises NetworkFileError."""
    _check_identity(params)
    _check_ranges(params)
    _check_allocations(params)
    if mined:
        _check_genesis(params)  # before the rule's ranges: an edited file says so first
    _check_daa(params)


# -- the document --------------------------------------------------------------------------


def to_document(nf: NetworkFile) -> dict[str, Any]:
    """The TOML-shaped dict of a network file (tables `network`, `consensus`, `genesis`)."""
    p = nf.params
    network: dict[str, Any] = {key: getattr(p, key) for key in NETWORK_KEYS}
    network["magic"] = p.magic.hex()
    network["seeds"] = list(nf.seeds)
    genesis: dict[str, Any] = {key: getattr(p, field) for key, field in GENESIS_KEYS.items()}
    genesis["message"] = p.genesis_message.decode("ascii")
    genesis["allocations"] = [
        {"address": encode_address(p.hrp, key), "amount": amount}
        for key, amount in p.genesis_allocations
    ]
    return {
        "format": FORMAT,
        "network": network,
        "consensus": {key: getattr(p, key) for key in CONSENSUS_KEYS},
        "genesis": genesis,
    }


def _table(doc: Mapping[str, object], key: str, expected: Sequence[str]) -> Mapping[str, Any]:
    table = doc.get(key)
    if not isinstance(table, Mapping):
        raise NetworkFileError(f"missing table [{key}]")
    unknown = sorted(set(table) - set(expected))
    if unknown:
        raise NetworkFileError(f"unknown key {key}.{unknown[0]}")
    missing = [k for k in expected if k not in table]
    if missing:
        raise NetworkFileError(f"missing key {key}.{missing[0]}")
    return table


_KINDS = {int: "an integer", str: "a string", bool: "true or false"}


def _typed(table: Mapping[str, Any], section: str, key: str, kind: type) -> Any:
    value = table[key]
    if type(value) is not kind:  # bool is an int subclass: compare exact types
        raise NetworkFileError(f"{section}.{key} must be {_KINDS[kind]}, not {value!r}")
    return value


def _magic(text: str) -> bytes:
    try:
        magic = bytes.fromhex(text)
    except ValueError:
        magic = b""
    if len(magic) != 4:
        raise NetworkFileError(f"network.magic {text!r} must be 8 hex digits")
    return magic


def parse_seeds(value: object) -> tuple[str, ...]:
    """The seeds of a file (a list of "host:port" strings); NetworkFileError otherwise."""
    if not isinstance(value, list) or len(value) > MAX_SEEDS:
        raise NetworkFileError(f"network.seeds must be a list of at most {MAX_SEEDS} HOST:PORT")
    for seed in value:
        match = _SEED.fullmatch(seed) if isinstance(seed, str) else None
        if match is None or not 0 < int(match.group(2)) < 65_536:
            raise NetworkFileError(f"network.seeds: {seed!r} is not HOST:PORT")
    return tuple(value)


def _allocations(value: object, hrp: str) -> tuple[tuple[bytes, int], ...]:
    if not isinstance(value, list):
        raise NetworkFileError("genesis.allocations must be a list of {address, amount}")
    result = []
    for entry in value:
        if not isinstance(entry, Mapping) or set(entry) != {"address", "amount"}:
            raise NetworkFileError(f"genesis.allocations: {entry!r} is not {{address, amount}}")
        address = _typed(entry, "genesis.allocations", "address", str)
        amount = _typed(entry, "genesis.allocations", "amount", int)
        try:
            result.append((decode_address(address, hrp), amount))
        except AddressError as exc:
            raise NetworkFileError(f"genesis.allocations: {address!r}: {exc}") from exc
    return tuple(result)


def from_document(doc: Mapping[str, object]) -> NetworkFile:
    """Parse and validate a network file's dict; NetworkFileError names what is wrong."""
    if doc.get("format") != FORMAT:
        raise NetworkFileError(f"format must be {FORMAT!r} (is this a powchain network file?)")
    extra = sorted(set(doc) - {"format", "network", "consensus", "genesis"})
    if extra:
        raise NetworkFileError(f"unknown key {extra[0]}")
    network = _table(doc, "network", (*NETWORK_KEYS, "seeds"))
    consensus = _table(doc, "consensus", CONSENSUS_KEYS)
    genesis = _table(doc, "genesis", tuple(GENESIS_KEYS))
    strings = {"name", "hrp", "magic", "daa"}
    values: dict[str, Any] = {}
    for key in NETWORK_KEYS:
        kind = str if key in strings else bool if key == "mine_on_demand" else int
        values[key] = _typed(network, "network", key, kind)
    for key in CONSENSUS_KEYS:
        values[key] = _typed(consensus, "consensus", key, str if key in strings else int)
    for key in ("time", "bits", "nonce"):
        values[GENESIS_KEYS[key]] = _typed(genesis, "genesis", key, int)
    values["magic"] = _magic(values["magic"])
    message = _typed(genesis, "genesis", "message", str)
    values["genesis_message"] = message.encode("utf-8")
    values["genesis_hash_hex"] = _typed(genesis, "genesis", "hash", str)
    _check_identity(ChainParams(**values))  # the hrp first: allocations are decoded with it
    values["genesis_allocations"] = _allocations(genesis["allocations"], values["hrp"])
    params = ChainParams(**values)
    check_params(params)
    return NetworkFile(params, parse_seeds(network["seeds"]))
