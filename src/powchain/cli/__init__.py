"""The `powchain` command line (SPEC §8): run a node or a devnet, use a wallet, query a node.

One module per command group (`run`: node and devnet; `query`; `wallet`; `send`; `network`;
`peers`; `pool`: the Stratum miner; `validator`: validator networks; `proof`: proof, verify
and notarize); `common` holds the shared options and the client context. Client commands talk
to a node through its REST API (`wallet.client.NodeClient`); amounts on the command line are
coins (`1.5`) converted exactly to base units; keys never leave the encrypted keystore except
to sign locally. Importing this package loads neither FastAPI nor uvicorn (a test checks it).
"""

from __future__ import annotations

from . import network, peers, pool, proof, query, run, send, validator, wallet  # noqa: F401
from .root import main

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover
    main()
