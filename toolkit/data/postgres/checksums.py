"""Per-table content digests computed the same way on both sides, by bucket of key.

Every row is rendered as its text form (``t::text``: every column, generated ones included, in
table order) under the same session settings (``sqltext.SESSION_SETTINGS``), then hashed:

- a table with a primary key: ``md5`` of the rows' hashes concatenated in key order, per bucket
  of an integer key (one bucket otherwise), so that a difference is named down to a key range and
  a later check can digest one bucket alone;
- a table without one: the sum of the rows' hashes (as numbers), which does not depend on order
  and still counts duplicate rows.

Each query returns ``[{"bucket": n, "rows": n, "digest": "..."}]`` as JSON.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.ranges import KeyBuckets
from toolkit.data.postgres.sqltext import ident

ROW_HASH = "md5(t::text)"
# Two 60-bit slices of the row's md5 summed as numeric: order-independent, duplicate-sensitive.
UNORDERED = ("coalesce(sum(('x' || substr({h}, 1, 15))::bit(60)::bigint::numeric), 0)::text || '.' || "
             "coalesce(sum(('x' || substr({h}, 17, 15))::bit(60)::bigint::numeric), 0)::text")


def digest_sql(table: Table, buckets: KeyBuckets | None = None, only: Sequence[int] | None = None,
               from_bucket: int | None = None, up_to: int | None = None) -> str:
    """The digest query for ``table`` (``buckets`` only for a table with a single integer key);
    with ``only`` and ``from_bucket``, just those buckets and every one from ``from_bucket`` up,
    and with ``up_to`` no key above it."""
    if table.key:
        order = ", ".join(f"t.{ident(column)}" for column in table.key)
        digest = f"md5(string_agg({ROW_HASH}, '' ORDER BY {order}))"
        bucket = (buckets or KeyBuckets(0, 0)).expression(f"t.{ident(table.key[0])}")
    else:
        digest = UNORDERED.format(h=ROW_HASH)
        bucket = "0"
    conditions = []
    if only is not None and bucket != "0" and buckets is not None:
        conditions.append(f"({_key_ranges(f't.{ident(table.key[0])}', buckets, only, from_bucket)})")
    if up_to is not None and table.key:  # also for a table of one bucket
        conditions.append(f"t.{ident(table.key[0])} <= {int(up_to)}")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    inner = (f"SELECT {bucket} AS bucket, count(*) AS rows, {digest} AS digest "
             f"FROM {table.qualified} AS t{where} GROUP BY 1")
    return f"SELECT coalesce(json_agg(d ORDER BY d.bucket), '[]'::json) FROM ({inner}) AS d"


def _key_ranges(key: str, buckets: KeyBuckets, only: Sequence[int], from_bucket: int | None) -> str:
    """``only``'s buckets and every one from ``from_bucket`` up, as ranges of the key itself: the
    primary key's index finds them, where a condition on the bucket expression reads the whole table."""
    runs: list[list[int]] = []  # adjacent buckets as one range
    for b in sorted({int(b) for b in only if from_bucket is None or b < from_bucket}):
        if runs and runs[-1][1] == b:
            runs[-1][1] = b + 1
        else:
            runs.append([b, b + 1])
    ranges = [f"({key} >= {buckets.low(first)} AND {key} < {buckets.low(end)})" for first, end in runs]
    if from_bucket is not None:
        ranges.append(f"{key} >= {buckets.low(int(from_bucket))}")
    return " OR ".join(ranges) or "false"


def compare(source: list[dict[str, object]], target: list[dict[str, object]]) -> list[str]:
    """What differs between two digest lists, per bucket, in words."""
    by_bucket_source = {int(str(d["bucket"])): d for d in source}
    by_bucket_target = {int(str(d["bucket"])): d for d in target}
    problems = []
    for bucket in sorted(by_bucket_source.keys() | by_bucket_target.keys()):
        s, t = by_bucket_source.get(bucket), by_bucket_target.get(bucket)
        s_rows = int(str(s["rows"])) if s else 0
        t_rows = int(str(t["rows"])) if t else 0
        if s_rows != t_rows:
            problems.append(f"bucket {bucket}: {s_rows} rows on the source, {t_rows} on the target")
        elif (s or {}).get("digest") != (t or {}).get("digest"):
            problems.append(f"bucket {bucket}: same {s_rows} rows counted, different content")
    return problems
