"""``verify``: row counts and content digests per table (per key bucket), and schema drift.

What a pass proves: at the moment each table was digested, the target held exactly the source's
rows for it (same count, same text rendering of every column, in key order or as a multiset), the
same tables existed on both sides, and the two schemas (tables, columns, types, keys, indexes,
constraints, views, functions, sequences' definitions) were the same as text.

What it does not prove: that sequences' current values match (they are synced on demand, at
cutover); that privileges granted to other roles match (they are not carried); that the sides were
digested at one instant (under a steady stream a table may differ for a moment: a difference is
confirmed by digesting that table again after the target catches up, and only a lasting one is
reported); anything about a value that renders the same as text but differs in bits (none of
PostgreSQL's built-in types do, floating point included with ``extra_float_digits = 1``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from toolkit.data.mover import Difference, Verification
from toolkit.data.postgres import catalog, checksums, schema
from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.names import Names
from toolkit.data.postgres.ranges import KeyBuckets, key_buckets
from toolkit.data.postgres.source import SourceEndpoint, query, scalar
from toolkit.data.postgres.sqltext import SESSION_SETTINGS, ident, literal
from toolkit.data.postgres.target import TargetHost

CATCH_UP_WAIT_S = 15.0
CONFIRMATIONS = 4  # a table that differs is digested again this many times before it is reported
CONFIRM_PAUSE_S = 2.0

PROVES = ("Every table has the same row count and the same content digest on both sides (primary-key "
          "order where there is a key, an order-independent digest where there is none), no table is "
          "missing on either side, and the schemas match; sequences' values and other roles' privileges are "
          "not compared.")
LIVE_RECHECK_S = 20.0  # a drill's recheck digests ranges written meanwhile again, this long at most
LIVE_RECHECK_PROVES = ("With the source still taking writes (a drill), the key ranges a comparison had left "
                       "unsettled, up to the largest key at the drill's marker, held the same rows on both "
                       "sides: each was digested on the source, then on the target once it had confirmed the "
                       "source's position after that digest; the rest was equal at that comparison and "
                       "followed by the change stream.")
RECHECK_PROVES = ("With the source frozen and the target drained to the frozen position, the key ranges a "
                  "comparison under live writes had left unsettled have the same row counts and digests on "
                  "both sides; the rest was equal at that comparison and followed by the change stream.")


def wait_caught_up(conn: Any, names: Names, timeout: float = CATCH_UP_WAIT_S) -> bool:
    """Until the slot's confirmed position passes the source's WAL position taken now."""
    return wait_confirmed(conn, names, scalar(conn, "SELECT pg_current_wal_lsn()::text"), timeout)


def wait_confirmed(conn: Any, names: Names, position: str, timeout: float, poll: float = 0.3) -> bool:
    """Until the slot's confirmed position passes ``position``; False when it did not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = scalar(conn, "SELECT pg_wal_lsn_diff(confirmed_flush_lsn, %s::pg_lsn) >= 0 FROM "
                            "pg_replication_slots WHERE slot_name = %s", (position, names.slot))
        if done is None or done:
            return done is not None
        time.sleep(poll)
    return False


def buckets_for(conn: Any, table: Table) -> KeyBuckets:
    if not table.integer_key:
        return KeyBuckets(0, 0)
    key = ident(table.key[0])
    low, high, rows = query(conn, f"SELECT min({key}), max({key}), count(*) FROM {table.qualified}")[0]
    return key_buckets(low, high, int(rows))


def source_digest(conn: Any, sql: str) -> list[Any]:
    with conn.transaction():
        for statement in SESSION_SETTINGS.split(";"):
            if statement.strip():
                conn.execute(statement.replace("SET ", "SET LOCAL ", 1))
        return list(scalar(conn, sql))


def target_digest(target: TargetHost, sql: str) -> list[Any]:
    return list(target.json(sql, prelude=SESSION_SETTINGS))


def compare_table(conn: Any, target: TargetHost, table: Table, buckets: KeyBuckets,
                  unsettled: Unsettled | None = None) -> tuple[list[str], int]:
    """What differs, and the source's row count (of ``unsettled``'s buckets only, when given)."""
    if unsettled is None:
        sql = checksums.digest_sql(table, buckets)
    else:
        sql = checksums.digest_sql(table, buckets, unsettled.buckets, unsettled.from_bucket)
    [(source, on_target)] = digest_both(conn, target, [sql])
    return checksums.compare(source, on_target), sum(int(d["rows"]) for d in source)


def all_in_one(sqls: list[str]) -> str:
    """One query answering every digest query, as a JSON array in their order (one round trip)."""
    return "SELECT array_to_json(ARRAY[" + ", ".join(f"({sql})" for sql in sqls) + "]::json[])"


def digest_both(conn: Any, target: TargetHost, sqls: list[str]) -> list[tuple[list[Any], list[Any]]]:
    """Each digest query's result on the source and on the target: both servers digest at once,
    and each side answers every query in one round trip (the cutover window counts them)."""
    together = all_in_one(sqls)
    with ThreadPoolExecutor(1) as side:
        on_target = side.submit(target_digest, target, together)
        source = source_digest(conn, together)
        return list(zip(source, on_target.result(), strict=True))


@dataclass(frozen=True)
class Unsettled:
    """Key ranges of a table a comparison under live writes could not settle: its differing
    buckets, and every bucket from the last one up (rows added since the buckets were drawn)."""

    table: str
    origin: int
    width: int
    buckets: list[int]
    from_bucket: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def unsettled_in(table: Table, buckets: KeyBuckets, problems: list[str]) -> Unsettled:
    differing = sorted({int(problem.split()[1].rstrip(":")) for problem in problems})
    last = max(differing, default=None)
    return Unsettled(table.label, buckets.origin, buckets.width, differing, last)


def recheck(conn: Any, target: TargetHost, unsettled: list[Unsettled]) -> Verification:
    """Digest again only what a live comparison left unsettled (the source frozen, the target
    drained): the window's cost follows what was being written, not the data's size."""
    result = Verification(kind="database", proves=RECHECK_PROVES)
    tables = {t.label: t for t in catalog.tables_from(scalar(conn, catalog.TABLES_SQL))}
    present = [item for item in unsettled if item.table in tables]
    result.differences += [Difference(item.table, "is gone from the source")
                           for item in unsettled if item.table not in tables]
    sqls = [checksums.digest_sql(tables[item.table], KeyBuckets(item.origin, item.width), item.buckets,
                                 item.from_bucket) for item in present]
    digests = digest_both(conn, target, sqls) if sqls else []
    rows = 0
    for item, (source, on_target) in zip(present, digests, strict=True):
        result.differences += [Difference(item.table, problem)
                               for problem in checksums.compare(source, on_target)]
        rows += sum(int(d["rows"]) for d in source)
    result.compared = {"tables": len(unsettled), "rows": rows}
    return result


def key_ceilings(conn: Any, unsettled: list[Unsettled]) -> dict[str, int]:
    """The largest key of each unsettled table with an integer key, now (one query, by the index)."""
    tables = {t.label: t for t in catalog.tables_from(scalar(conn, catalog.TABLES_SQL))}
    keyed = [tables[item.table] for item in unsettled
             if item.table in tables and tables[item.table].integer_key]
    if not keyed:
        return {}
    parts = ", ".join(f"{literal(t.label)}, (SELECT max({ident(t.key[0])}) FROM {t.qualified})"
                      for t in keyed)
    found = scalar(conn, f"SELECT json_build_object({parts})")
    return {label: int(value) for label, value in found.items() if value is not None}


def recheck_live(conn: Any, target: TargetHost, names: Names, unsettled: list[Unsettled],
                 ceilings: dict[str, int], *, timeout: float = LIVE_RECHECK_S) -> Verification:
    """A drill's recheck, the source still taking writes (``LIVE_RECHECK_PROVES``): the ranges
    are digested on the source, then on the target once it confirmed the source's position after
    that digest; a range written between the two is digested again, until ``timeout``. Rows
    added above a table's ceiling (after the marker) are not the drill's."""
    result = Verification(kind="database", proves=LIVE_RECHECK_PROVES)
    tables = {t.label: t for t in catalog.tables_from(scalar(conn, catalog.TABLES_SQL))}
    pending = [item for item in unsettled if item.table in tables]
    result.differences += [Difference(item.table, "is gone from the source")
                           for item in unsettled if item.table not in tables]
    deadline = time.monotonic() + timeout
    rows = rounds = 0
    while pending:
        rounds += 1
        sqls = [checksums.digest_sql(tables[item.table], KeyBuckets(item.origin, item.width), item.buckets,
                                     item.from_bucket, ceilings.get(item.table)) for item in pending]
        together = all_in_one(sqls)
        sources = source_digest(conn, together)
        position = scalar(conn, "SELECT pg_current_wal_lsn()::text")
        if not wait_confirmed(conn, names, position, max(0.0, deadline - time.monotonic()), poll=0.01):
            late = f"the target did not confirm the source's position in {timeout:.0f} s"
            result.differences += [Difference(item.table, late) for item in pending]
            break
        still = []
        for item, source, on_target in zip(pending, sources, target_digest(target, together), strict=True):
            problems = checksums.compare(source, on_target)
            if not problems:
                rows += sum(int(d["rows"]) for d in source)
            elif time.monotonic() < deadline:
                narrowed = unsettled_in(tables[item.table], KeyBuckets(item.origin, item.width), problems)
                still.append(Unsettled(item.table, item.origin, item.width, narrowed.buckets, None))
            else:
                result.differences += [Difference(item.table, problem) for problem in problems]
        pending = still
    result.compared = {"tables": len(unsettled), "rows": rows, "rounds": rounds}
    return result


def verify(conn: Any, target: TargetHost, names: Names, endpoint: SourceEndpoint, *,
           live: bool = False) -> Verification:
    """Compare every table. ``live``: the source is still taking writes, so a differing key range
    is not confirmed again but listed in ``compared["unsettled"]`` for a later ``recheck``;
    missing tables and schema drift are differences either way."""
    result = Verification(kind="database", proves=PROVES)
    unsettled: list[Unsettled] = []
    caught_up = wait_caught_up(conn, names)
    source_tables = catalog.tables_from(scalar(conn, catalog.TABLES_SQL))
    target_labels = {t.label for t in catalog.tables_from(target.json(catalog.TABLES_SQL))}
    for table in source_tables:
        if table.label not in target_labels:
            result.differences.append(Difference(table.label, "is missing on the target"))
    for label in sorted(target_labels - {t.label for t in source_tables}):
        result.differences.append(Difference(label, "exists on the target only"))
    drift = schema.drift(target, names, endpoint)
    if drift:
        shown = "; ".join(drift[:8]) + (f"; and {len(drift) - 8} more lines" if len(drift) > 8 else "")
        result.differences.append(Difference("schema", f"the schemas differ (- source, + target): {shown}"))
    rows = 0
    compared = [t for t in source_tables if t.label in target_labels]
    for table in compared:
        buckets = buckets_for(conn, table)
        problems, counted = compare_table(conn, target, table, buckets)
        if live:
            if problems:
                unsettled.append(unsettled_in(table, buckets, problems))
            rows += counted
            continue
        for _ in range(CONFIRMATIONS):
            if not problems:
                break
            time.sleep(CONFIRM_PAUSE_S)
            wait_caught_up(conn, names)
            problems, counted = compare_table(conn, target, table, buckets)
        for problem in problems:
            bucket = int(problem.split()[1].rstrip(":"))
            bounds = buckets.bounds(bucket)
            where = f" (keys {table.key[0]} from {bounds[0]} to below {bounds[1]})" if bounds else ""
            result.differences.append(Difference(table.label, problem.split(": ", 1)[1] + where))
        rows += counted
    result.compared = {"tables": len(compared), "rows": rows, "schema_lines_differing": len(drift),
                       "caught_up_first": caught_up}
    if live:
        result.compared["unsettled"] = [item.to_json() for item in unsettled]
    return result
