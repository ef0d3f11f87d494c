"""The admin token file, DATADIR/api.cookie (like Bitcoin Core's .cookie).

Kept apart from `app` so the command line reads the token without loading FastAPI.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["COOKIE_NAME", "read_cookie", "write_cookie"]

COOKIE_NAME = "api.cookie"


def write_cookie(datadir: Path) -> str:
    """Create DATADIR/api.cookie (mode 0600) holding a fresh token (64 hex digits: 32 random
    bytes); return the token."""
    datadir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(32)
    path = datadir / COOKIE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token)
    os.chmod(path, 0o600)
    return token


def read_cookie(datadir: Path) -> str | None:
    """The admin token of the node using `datadir`, or None when it is not there."""
    try:
        return (datadir / COOKIE_NAME).read_text().strip() or None
    except OSError:
        return None
