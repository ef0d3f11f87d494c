"""The `powchain` group itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    pass


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="powchain")
def main() -> None:
    """powchain: a peer-to-peer proof-of-work blockchain.

    \b
    Examples:
      powchain node --network regtest          # a node with blocks on demand
      powchain devnet --nodes 3 --traffic      # a local network of 3 mining nodes
      powchain wallet create                   # a new encrypted wallet
      powchain wallet send rpow1... 1.5        # pay 1.5 coins
      powchain status                          # the local node's tip
    """
