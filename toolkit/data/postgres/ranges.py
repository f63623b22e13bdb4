"""How work is split: ctid ranges of a table for the copy, key buckets of a table for verify.

Pure functions, so that the plan is the same wherever it is computed and can be tested alone.
A table's last copy range is open-ended: rows that land in pages past the planned size (the table
grew after it was measured) are still copied, by exactly one range.
"""

from __future__ import annotations

from dataclasses import dataclass

# About 64 MB per range: big enough that a range's fixed cost (two connections, a transaction, a
# snapshot import) is noise, small enough to spread one big table over every worker. A table is
# never cut into ranges under 8 MB just to feed idle workers.
BYTES_PER_RANGE = 64 * 2**20
SMALLEST_RANGE = 8 * 2**20
PAGE = 8192


@dataclass(frozen=True)
class PageRange:
    """Heap pages [first, end) of one table; ``end`` None means to the table's end."""

    part: int
    first: int
    end: int | None

    def where(self) -> str:
        """The ctid condition (PostgreSQL 14+ scans only these pages: a TID range scan)."""
        conditions = []
        if self.first > 0:
            conditions.append(f"ctid >= '({self.first},0)'::tid")
        if self.end is not None:
            conditions.append(f"ctid < '({self.end},0)'::tid")
        return " AND ".join(conditions)


def page_ranges(pages: int, *, size: int | None = None, per_range: int = BYTES_PER_RANGE,
                workers: int = 1) -> list[PageRange]:
    """Split a table of ``pages`` heap pages and ``size`` bytes (TOAST included: a table of large
    values has few heap pages) into ranges of about ``per_range`` bytes, cut along heap pages.

    A table bigger than one range is split at least once per worker (down to ranges of 8 MB), so
    that a single large table keeps every worker busy.
    """
    if per_range < 1:
        raise ValueError("per_range must be at least 1")
    size = pages * PAGE if size is None else max(size, pages * PAGE)
    count = max(1, -(-size // per_range))
    if count > 1 and workers > count:
        count = min(workers, max(count, size // SMALLEST_RANGE))
    count = min(count, max(1, pages))
    if count == 1:
        return [PageRange(0, 0, None)]
    step = -(-pages // count)
    bounds = [i * step for i in range(count)]
    return [PageRange(i, first, bounds[i + 1] if i + 1 < count else None) for i, first in enumerate(bounds)]


@dataclass(frozen=True)
class KeyBuckets:
    """Integer keys grouped by value: bucket = floor((key - origin) / width). One bucket: width 0."""

    origin: int
    width: int

    def expression(self, column_sql: str) -> str:
        if self.width <= 0:
            return "0"
        return f"floor(({column_sql}::numeric - {self.origin}) / {self.width})::bigint"

    def bounds(self, bucket: int) -> tuple[int, int] | None:
        """The key values [low, high) of ``bucket``, None when there is one bucket."""
        if self.width <= 0:
            return None
        return self.low(bucket), self.low(bucket + 1)

    def low(self, bucket: int) -> int:
        """The smallest key value of ``bucket``."""
        return self.origin + bucket * self.width


def key_buckets(low: int | None, high: int | None, rows: int, *,
                rows_per_bucket: int = 100_000) -> KeyBuckets:
    """Buckets of about ``rows_per_bucket`` rows over keys [low, high], assuming keys spread evenly.

    A later, cheaper check can digest one bucket at a time: the buckets depend only on these
    numbers, taken from the source once.
    """
    if low is None or high is None or rows <= rows_per_bucket:
        return KeyBuckets(0, 0)
    buckets = -(-rows // rows_per_bucket)
    width = max(1, -(-(high - low + 1) // buckets))
    return KeyBuckets(low, width)
