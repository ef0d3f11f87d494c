"""Shared test configuration: where the team's read-only data lives.

`SHARED` is `<repo>/../shared` (vectors, extdata, SPEC), resolved from this file's location so
it works in any clone that sits next to the shared folder. Tests read the data in place and
never copy it into the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; fails (never skips) when it is missing."""
    if not (SHARED / "vectors").is_dir():
        pytest.fail(f"shared data not found at {SHARED} (expected <repo>/../shared)")
    return SHARED
