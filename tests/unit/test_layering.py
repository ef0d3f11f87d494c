"""Imports point down only (docs/architecture.md): parse every module's imports with `ast`.

A module belongs to the layer of its package under `src/powchain` (`core`, `consensus`, ...);
top-level modules (`config`, `devnet`, `noderun`, `lockfile`, `__main__`) and the `cli` package
are entry points and may import anything. A package or top-level module missing from the table
fails the test: add it here and to docs/architecture.md together. Pure layers must also stay
free of I/O, clocks, randomness and logging modules.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"

ENTRY_POINTS = {"cli", "config", "devnet", "noderun", "lockfile", "__main__"}
BELOW_NODE = {"core", "consensus", "policy", "storage", "node"}
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "consensus": {"core", "consensus"},
    "policy": {"core", "consensus", "policy"},
    "storage": {"core", "consensus", "storage"},
    "node": BELOW_NODE,
    "p2p": BELOW_NODE | {"p2p"},
    "api": BELOW_NODE | {"api", "wallet"},  # the explorer's node-side wallet (keystore)
    "mining": BELOW_NODE | {"mining"},
    "stratum": {"core", "consensus", "node", "stratum"},  # never api or p2p
    "wallet": {"core", "wallet"},
    "light": {"core", "consensus", "light"},  # headers-only client: never the node
}
PURE = {"core", "consensus", "policy"}
MODULE_EXCEPTIONS = {("light", "powchain.p2p.messages")}
"""(layer, module) pairs allowed across the table: the P2P wire codec is pure (core only),
and the light client's getheaders peer speaks it."""
IMPURE_MODULES = {"time", "random", "secrets", "logging", "os", "socket", "sqlite3", "asyncio"}


@dataclass(frozen=True)
class Violation:
    module: str  # dotted name of the importing module
    imported: str  # dotted name it imports
    why: str

    def __str__(self) -> str:
        return f"{self.module} imports {self.imported}: {self.why}"


def module_name(root: Path, path: Path) -> str:
    """'powchain.core.block' for <root>/powchain/core/block.py; packages keep their own name."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def imported_names(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Absolute dotted names of everything `module` imports (relative imports resolved)."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            if node.module is None:
                yield from (f"{base}.{alias.name}" for alias in node.names)
            else:
                yield base


def layer_of(dotted: str) -> str | None:
    """'core' for powchain.core.*, 'cli' for powchain.cli, None outside powchain.

    Names of the root package itself (`powchain`, `powchain.__version__`) give '__init__'.
    """
    parts = dotted.split(".")
    if parts[0] != "powchain":
        return None
    if len(parts) == 1 or (parts[1].startswith("__") and parts[1] != "__main__"):
        return "__init__"
    return parts[1]


def check_module(module: str, imports: list[str]) -> list[Violation]:
    layer = layer_of(module)
    assert layer is not None
    if module == "powchain":
        # the root package is importable from every layer, so it must import nothing of ours
        return [
            Violation(module, n, "the root package must stay a leaf")
            for n in imports
            if layer_of(n)
        ]
    if layer in ENTRY_POINTS and (module.count(".") <= 1 or layer == "cli"):
        return []
    if layer not in ALLOWED:
        return [Violation(module, "-", f"layer '{layer}' is not in the layer table")]
    found = []
    for name in imports:
        target = layer_of(name)
        if (layer, name) in MODULE_EXCEPTIONS:
            continue
        if target not in (None, "__init__") and target not in ALLOWED[layer]:
            found.append(Violation(module, name, f"'{layer}' may not import '{target}'"))
        if layer in PURE and name.split(".")[0] in IMPURE_MODULES:
            found.append(Violation(module, name, f"'{layer}' must stay pure (no I/O)"))
    return found


def find_violations(root: Path) -> list[Violation]:
    """Every layering violation under `root/powchain`."""
    found = []
    for path in sorted((root / "powchain").rglob("*.py")):
        module = module_name(root, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names = list(imported_names(tree, module, path.name == "__init__.py"))
        found.extend(check_module(module, names))
    return found


def test_no_layer_imports_upward() -> None:
    violations = find_violations(SRC)
    assert not violations, "\n".join(map(str, violations))


def test_the_tree_is_really_scanned() -> None:
    modules = {module_name(SRC, p) for p in (SRC / "powchain").rglob("*.py")}
    assert {"powchain.core.block", "powchain.consensus.pow"} <= modules


def _write(root: Path, rel: str, text: str) -> None:
    path = root / "powchain" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_checker_flags_a_synthetic_upward_import(tmp_path: Path) -> None:
    _write(tmp_path, "__init__.py", "from .cli import main\n")
    _write(tmp_path, "core/__init__.py", "")
    _write(tmp_path, "core/ok.py", "from . import other\nfrom .block import Block\n")
    _write(tmp_path, "core/bad.py", "from ..node.node import Node\n")
    _write(tmp_path, "consensus/__init__.py", "from .. import policy\n")
    _write(tmp_path, "p2p/peer.py", "import powchain.api.app\n")
    _write(tmp_path, "wallet/client.py", "from powchain.node import events\n")
    _write(tmp_path, "policy/fees.py", "import time\nfrom os import path\n")
    _write(tmp_path, "node/miner.py", "from ..policy import fees\nimport asyncio\n")
    _write(tmp_path, "cli.py", "from .api import app\nfrom .p2p import peer\n")
    _write(tmp_path, "gossip/x.py", "")
    _write(tmp_path, "storage/db.py", "from .. import __version__\nimport sqlite3\n")
    got = {(v.module, v.imported) for v in find_violations(tmp_path)}
    assert got == {
        ("powchain.core.bad", "powchain.node.node"),
        ("powchain.consensus", "powchain.policy"),
        ("powchain.p2p.peer", "powchain.api.app"),
        ("powchain.wallet.client", "powchain.node"),
        ("powchain.policy.fees", "time"),
        ("powchain.policy.fees", "os"),
        ("powchain.gossip.x", "-"),
        ("powchain", "powchain.cli"),
    }


@pytest.mark.parametrize(
    ("module", "name", "ok"),
    [
        ("powchain.api.routes", "powchain.p2p.peer", False),
        ("powchain.stratum.server", "powchain.node.events", True),
        ("powchain.stratum.server", "powchain.api.app", False),
        ("powchain.stratum.jobs", "powchain.p2p.peer", False),
        ("powchain.api.routes", "powchain.stratum.server", False),
        ("powchain.p2p.peer", "powchain.node.node", True),
        ("powchain.storage.db", "sqlite3", True),  # storage is where SQL lives
        ("powchain.core.keys", "coincurve", True),
        ("powchain.consensus.pow", "powchain.core.params", True),
        ("powchain.consensus.pow", "logging", False),
        ("powchain.light.headerchain", "powchain.consensus.pow", True),
        ("powchain.light.sync", "powchain.node.node", False),
        ("powchain.light.sync", "powchain.p2p.peerman", False),
        ("powchain.light.store", "sqlite3", True),
        ("powchain.light.wspeer", "powchain.p2p.messages", True),
        ("powchain.light.wspeer", "powchain.p2p.peer", False),
    ],
)
def test_rules_table(module: str, name: str, ok: bool) -> None:
    assert (check_module(module, [name]) == []) is ok
