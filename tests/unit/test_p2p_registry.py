"""The peer manager's message registry (p2p/peerman.py, p2p/component.py): every command of
p2p/messages.py has exactly one handler, owned by one component; a second owner is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from powchain.core.params import REGTEST
from powchain.p2p import messages as m
from powchain.p2p.peerman import PeerManager


def manager() -> PeerManager:
    return PeerManager(SimpleNamespace(params=REGTEST, config=SimpleNamespace()))


def test_every_command_has_exactly_one_handler() -> None:
    pm = manager()
    assert set(pm.handlers) == set(m.MESSAGES.values())
    owners = [t for c in pm.components for t in c.handlers()]
    assert sorted(t.__name__ for t in owners) == sorted(t.__name__ for t in m.MESSAGES.values())


def test_a_second_handler_for_a_type_is_refused() -> None:
    pm = manager()
    with pytest.raises(ValueError, match="Ping already has a handler"):
        pm.register(m.Ping, lambda peer, message: None)
