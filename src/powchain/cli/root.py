"""The `powchain` group itself."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="powchain")
def main() -> None:
    """powchain: a peer-to-peer proof-of-work blockchain.

    Client commands talk to the node of --network (default regtest, API port 18745) unless
    --node URL says which; amounts are coins with up to 8 decimals.

    \b
    Examples:
      powchain node --network regtest          # a node with blocks on demand
      powchain devnet --nodes 3 --traffic      # a local network of 3 mining nodes
      powchain wallet create                   # a new encrypted wallet
      powchain mine 101                        # regtest: 101 blocks to your wallet
      powchain wallet send rpow1... 1.5        # pay 1.5 coins
      powchain status                          # the local regtest node's tip
      powchain status --network devnet         # the local devnet node0 (port 28745)
    """
