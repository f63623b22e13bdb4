"""Which host copies which object: a stable hash of bucket and key, modulo the number of hosts."""

from __future__ import annotations

import hashlib


def shard_of(bucket: str, key: str, shards: int) -> int:
    """The shard (0..shards-1) of ``bucket/key``; the same on every host and every Python."""
    if shards < 1:
        raise ValueError(f"shards must be at least 1, not {shards}")
    digest = hashlib.sha256(f"{bucket}\0{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % shards
