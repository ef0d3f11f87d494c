"""Fuzz every decoder of untrusted bytes (scenario 7 of issue 5) with hypothesis.

Property (see decoders.py): a typed error, or a value that re-encodes to the very input.
`make test` runs POWCHAIN_FUZZ_EXAMPLES (default 500) hypothesis examples per decoder and
strategy; the soak tier adds 1,000,000 seeded random mutations. Any input that ever broke a
decoder is kept in `regressions/<decoder>-<what>.hex` and replayed here forever.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .decoders import DECODERS, SEEDS, check, mutate

REGRESSIONS = Path(__file__).parent / "regressions"
EXAMPLES = int(os.environ.get("POWCHAIN_FUZZ_EXAMPLES", "500"))
SOAK_INPUTS = int(os.environ.get("POWCHAIN_FUZZ_INPUTS", "1000000"))
NAMES = sorted(DECODERS)

fuzz_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.parametrize("name", NAMES)
def test_random_bytes(name: str) -> None:
    @fuzz_settings
    @given(st.binary(max_size=600))
    def run(raw: bytes) -> None:
        check(DECODERS[name], raw)

    run()


@pytest.mark.parametrize("name", NAMES)
def test_mutated_valid_encodings(name: str) -> None:
    @fuzz_settings
    @given(st.sampled_from(SEEDS[name]), st.randoms(use_true_random=False))
    def run(seed: bytes, rng: random.Random) -> None:
        check(DECODERS[name], mutate(seed, rng))

    run()


def test_every_command_byte_with_random_payload() -> None:
    @fuzz_settings
    @given(st.integers(0, 15), st.binary(max_size=300))
    def run(command: int, payload: bytes) -> None:
        check(DECODERS["message"], bytes([command]) + payload)

    run()


def test_seeds_decode_and_round_trip() -> None:
    for name, seeds in SEEDS.items():
        for raw in seeds:
            DECODERS[name].decode(raw)  # valid: must not raise
            check(DECODERS[name], raw)


@pytest.mark.parametrize(
    "path", sorted(REGRESSIONS.glob("*.hex")), ids=lambda p: p.stem if isinstance(p, Path) else p
)
def test_regression_case(path: Path) -> None:
    name = path.stem.split("-", 1)[0]
    check(DECODERS[name], bytes.fromhex(path.read_text().split()[0]))


def fuzz_loop(total: int, seed: int = 2026) -> tuple[int, float, list[Path]]:
    """`total` seeded mutations spread over the decoders; (inputs, seconds, new regressions)."""
    rng = random.Random(seed)
    found: list[Path] = []
    start = time.monotonic()
    for i in range(total):
        name = NAMES[i % len(NAMES)]
        raw = mutate(rng.choice(SEEDS[name]), rng)
        try:
            check(DECODERS[name], raw)
        except Exception as exc:  # noqa: BLE001 - any failure is a finding to keep
            path = REGRESSIONS / f"{name}-found-{i}.hex"
            path.write_text(f"{raw.hex()}\n# {type(exc).__name__}: {exc}\n"[:4000])
            found.append(path)
    return total, time.monotonic() - start, found


def test_fuzz_loop_short() -> None:
    inputs, _seconds, found = fuzz_loop(3_000, seed=1)
    assert inputs == 3_000
    assert found == [], f"decoder failures kept as regression cases: {found}"


@pytest.mark.soak
def test_fuzz_one_million() -> None:
    inputs, seconds, found = fuzz_loop(SOAK_INPUTS)
    from tests.soak.report import record

    record(
        "7 fuzzing",
        f"{inputs:,} mutated inputs over {len(NAMES)} decoders, {inputs / seconds:,.0f}/s, "
        f"{len(found)} failures",
        "1,000,000 inputs, 0 failures",
        not found,
    )
    assert found == [], f"decoder failures kept as regression cases: {found}"
