"""Stratum v1: the mining server of a node and the client of `powchain miner`.

`server` (connections, bounds, dispatch), `jobs` (templates from the node as Stratum jobs),
`share` (the full check of a `mining.submit`), `vardiff` (per-connection share difficulty),
`protocol` (JSON lines, error codes, difficulty), `client` (the standalone miner).
The server gets templates from `node` and hands found blocks to `node.process_block`, the
one inbound path, like `p2p` does; it never imports `api` or `p2p`.
"""
