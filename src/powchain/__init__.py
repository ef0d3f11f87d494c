"""powchain: a peer-to-peer proof-of-work blockchain."""

__version__ = "0.1.0"
