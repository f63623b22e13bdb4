"""Multipart sizing: when an object is sent in parts, and how large each part is.

S3 allows at most 10,000 parts of at least 5 MiB (but the last). Parts grow with the object so
that any object fits; a part is buffered in memory up to ``MEMORY_PART_LIMIT`` and spooled to a
temporary file beyond it, so a worker's memory stays bounded whatever the object size.
"""

from __future__ import annotations

MIB = 1024 * 1024
# Larger objects go in parts. Up to it an object streams into one PUT: no part buffers and two
# requests fewer, and a failure redoes at most this much (about a second on a datacenter link).
# Measured (benchmarks/object_copy.py, 20 x 64 MiB): 13.4 s in 8 MiB parts, 10.9 s streamed.
MULTIPART_THRESHOLD = 128 * MIB
MIN_PART_SIZE = 8 * MIB
MAX_PARTS = 10_000
MAX_OBJECT_SIZE = 5 * 1024 * 1024 * MIB  # S3's limit: 5 TiB
MEMORY_PART_LIMIT = 16 * MIB  # a part, or a whole object in one PUT, held in memory up to this


def is_multipart(size: int, threshold: int = MULTIPART_THRESHOLD) -> bool:
    return size > threshold


def part_size(size: int, minimum: int = MIN_PART_SIZE) -> int:
    """The part size for an object of ``size`` bytes: ``minimum``, or more (whole MiB) past 10,000 parts."""
    if size < 0 or size > MAX_OBJECT_SIZE:
        raise ValueError(f"an S3 object has 0..{MAX_OBJECT_SIZE} bytes, not {size}")
    needed = -(-size // MAX_PARTS)  # ceiling
    needed = -(-needed // MIB) * MIB
    return max(minimum, needed)


def part_count(size: int, part: int) -> int:
    return max(1, -(-size // part))
