"""The PostgreSQL mover's pure parts: range splitting, key buckets, digest SQL, resume planning."""

from __future__ import annotations

import pytest

from toolkit.data.postgres import checksums, copy, ledger, schema
from toolkit.data.postgres.catalog import Table
from toolkit.data.postgres.ranges import KeyBuckets, PageRange, key_buckets, page_ranges
from toolkit.data.postgres.resume import CopyAction, Observed, plan_copy
from toolkit.data.postgres.source import SourceEndpoint
from toolkit.data.postgres.sqltext import ident
from toolkit.spec.secrets import Secret


def table(name: str = "Mixed Case", key: tuple[str, ...] = ("id",), **kw: object) -> Table:
    values: dict[str, object] = dict(schema="public", name=name, identity="d", pages=100, bytes=819200,
                                     partition=False, key=key, identity_index=False, columns=("id", "v"),
                                     builtin_types=True, integer_key=bool(key))
    values.update(kw)
    return Table(**values)  # type: ignore[arg-type]


def covered(ranges: list[PageRange], pages: int) -> list[int]:
    """Each page (and one past the end, for rows added later) with the ranges that hold it."""
    hits = []
    for page in range(pages + 5):
        hits.append(sum(1 for r in ranges if r.first <= page and (r.end is None or page < r.end)))
    return hits


@pytest.mark.parametrize("pages,workers", [(0, 1), (1, 4), (8191, 1), (8192, 1), (8193, 1), (100_000, 1),
                                           (20_000, 8), (3000, 4), (1500, 8)])
def test_page_ranges_cover_every_page_once_and_the_last_is_open(pages: int, workers: int) -> None:
    ranges = page_ranges(pages, workers=workers)
    assert set(covered(ranges, pages)) == {1}
    assert ranges[-1].end is None
    assert [r.part for r in ranges] == list(range(len(ranges)))


def test_a_big_table_is_split_for_every_worker_but_not_into_tiny_ranges() -> None:
    assert len(page_ranges(100_000)) == 13  # about 64 MB each
    assert len(page_ranges(20_000, workers=8)) == 8  # 3 ranges would idle 5 workers
    assert len(page_ranges(1500, workers=8)) == 1  # under one range: one piece
    assert len(page_ranges(3000, workers=8)) == 1
    assert len(page_ranges(10_000, workers=16)) == 9  # not under 8 MB


def test_a_table_of_large_values_is_split_by_its_size_not_its_heap() -> None:
    # 20,000 rows of 4 KB values: 150 heap pages, 82 MB in TOAST.
    ranges = page_ranges(150, size=82 * 10**6, workers=4)
    assert len(ranges) == 4 and set(covered(ranges, 150)) == {1}
    assert len(page_ranges(3, size=10**9, workers=8)) == 3  # never more ranges than pages


def test_range_conditions_use_tid_ranges() -> None:
    first, middle, last = page_ranges(30_000, per_range=10_000 * 8192)
    assert first.where() == "ctid < '(10000,0)'::tid"
    assert middle.where() == "ctid >= '(10000,0)'::tid AND ctid < '(20000,0)'::tid"
    assert last.where() == "ctid >= '(20000,0)'::tid"
    assert PageRange(0, 0, None).where() == ""


def test_key_buckets_hold_about_the_asked_rows_and_name_their_bounds() -> None:
    buckets = key_buckets(1, 1_000_000, 1_000_000, rows_per_bucket=100_000)
    assert buckets == KeyBuckets(1, 100_000)
    assert buckets.bounds(0) == (1, 100_001)
    assert buckets.bounds(9) == (900_001, 1_000_001)
    assert key_buckets(1, 10, 10) == KeyBuckets(0, 0)  # small: one bucket
    assert key_buckets(None, None, 0).bounds(0) is None


def test_digest_sql_orders_by_key_and_quotes_identifiers() -> None:
    sql = checksums.digest_sql(table(key=("Id", "Part")))
    assert 'ORDER BY t."Id", t."Part"' in sql
    assert '"public"."Mixed Case"' in sql
    assert "sum(" not in sql


def test_digest_sql_without_key_is_order_independent_and_counts_duplicates() -> None:
    sql = checksums.digest_sql(table(key=()))
    assert "ORDER BY t." not in sql and "sum((" in sql and "count(*)" in sql


def test_digest_sql_buckets_by_integer_key() -> None:
    sql = checksums.digest_sql(table(), KeyBuckets(1, 1000))
    assert 'floor((t."id"::numeric - 1) / 1000)::bigint AS bucket' in sql


def test_digest_sql_of_unsettled_buckets_only_and_the_tail() -> None:
    # The cutover's recheck digests the key ranges a live comparison left unsettled, not the table.
    # As ranges of the key, which its index finds (a condition on the bucket reads every row).
    sql = checksums.digest_sql(table(), KeyBuckets(1, 1000), [3, 4, 7, 9], 7)
    assert 'WHERE ((t."id" >= 3001 AND t."id" < 5001) OR t."id" >= 7001) GROUP BY 1' in sql
    assert 'WHERE ((t."id" >= 3001 AND t."id" < 4001)) GROUP' in checksums.digest_sql(
        table(), KeyBuckets(1, 1000), [3], None)
    assert "WHERE" not in checksums.digest_sql(table(), KeyBuckets(0, 0), [0], 0)  # one bucket: all of it
    assert "WHERE" not in checksums.digest_sql(table(), KeyBuckets(1, 1000))


def test_compare_names_the_bucket_and_what_differs() -> None:
    source = [{"bucket": 0, "rows": 3, "digest": "a"}, {"bucket": 1, "rows": 2, "digest": "b"}]
    assert checksums.compare(source, source) == []
    assert checksums.compare(source, [{"bucket": 0, "rows": 3, "digest": "x"}, source[1]]) == [
        "bucket 0: same 3 rows counted, different content"]
    assert checksums.compare(source, source[:1]) == ["bucket 1: 2 rows on the source, 0 on the target"]
    assert checksums.compare(source[:1], source) == ["bucket 1: 0 rows on the source, 2 on the target"]


def test_ident_quotes_quotes() -> None:
    assert ident('we"ird') == '"we""ird"'


def test_plan_sql_lists_every_range_of_every_table_and_replaces_the_old_plan() -> None:
    plan = [(table("big", pages=20_000), page_ranges(20_000, per_range=8192 * 8192)),
            (table("small"), page_ranges(1))]
    sql = ledger.plan_sql("toolkit_svc", plan)
    assert sql.startswith('BEGIN;\nDELETE FROM "toolkit_svc".ranges;')
    assert sql.count("'public.big'") == 3 and sql.count("'public.small'") == 1
    assert "ctid >= ''(6667,0)''::tid" in sql  # the condition travels as a literal


def test_passfile_line_escapes_separators() -> None:
    endpoint = SourceEndpoint("db.example", 5432, "svc", "admin", Secret("pa:ss\\word"))
    assert endpoint.passfile_line() == "db.example:5432:*:admin:pa\\:ss\\\\word\n"
    assert "pa" not in endpoint.conninfo()


def seen(**kw: object) -> Observed:
    values: dict[str, object] = dict(copy_recorded=False, ranges_planned=0, ranges_done=0,
                                     agent_running=False, agent_phase=None, slot_exists=False)
    values.update(kw)
    return Observed(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("observed,action", [
    (seen(), CopyAction.START),
    (seen(copy_recorded=True, ranges_planned=3, ranges_done=3, slot_exists=True), CopyAction.SKIP),
    # The toolkit was killed, the agent copies on: follow it, redo nothing.
    (seen(ranges_planned=5, ranges_done=2, agent_running=True, agent_phase="copying", slot_exists=True),
     CopyAction.ATTACH),
    # The agent ended while nobody watched.
    (seen(ranges_planned=5, ranges_done=5, agent_phase="copied", slot_exists=True), CopyAction.FINISH),
    # The agent died mid-copy: its snapshot is gone.
    (seen(ranges_planned=5, ranges_done=2, agent_phase="copying", slot_exists=True), CopyAction.REDO),
    (seen(ranges_planned=5, ranges_done=0, agent_phase="failed", slot_exists=False), CopyAction.REDO),
    # Killed between planning and the agent's start, or after an aborted run removed the slot.
    (seen(ranges_planned=5), CopyAction.REDO),
    (seen(ranges_planned=5, ranges_done=5, agent_phase="copied", slot_exists=False), CopyAction.REDO),
    (seen(slot_exists=True), CopyAction.REDO),
])
def test_resume_planning(observed: Observed, action: CopyAction) -> None:
    assert plan_copy(observed) is action


def test_post_data_listing_skips_exactly_what_was_built_early() -> None:
    listing = """;
; Archive created at 2026-11-22
3212; 2606 16400 CONSTRAINT public Tricky Types Tricky Types_pkey refservice
3213; 1259 16401 INDEX public tricky_x refservice
3214; 1259 16402 INDEX public tricky_x2 refservice
3217; 2606 16411 CONSTRAINT public ev1 ev1_pkey refservice
3218; 0 0 INDEX ATTACH public ev1_pkey refservice
3220; 2606 16420 FK CONSTRAINT public child child_parent_fkey refservice"""
    built = ["CONSTRAINT public Tricky Types Tricky Types_pkey", "INDEX public tricky_x"]
    kept = schema.without_entries(listing, built)
    entries = [line.split(";")[0] for line in kept if not line.startswith(";")]
    assert entries == ["3214", "3217", "3218", "3220"]
    assert kept[0] == ";"


def test_a_poll_reads_the_unit_the_agent_state_and_the_ranges_in_one_output() -> None:
    ranges = '[{"tbl": "public.a", "part": 0, "done": true},\n {"tbl": "public.a", "part": 1, "done": false}]'
    running, state, parsed = copy.parse_probe(f'active\n{{"phase": "copying", "pid": 7}}\n{ranges}\n')
    assert running and state["phase"] == "copying"
    assert [r["part"] for r in parsed] == [0, 1]
    # The agent never ran: no state file, no ledger yet (psql failed: nothing on stdout).
    assert copy.parse_probe("inactive\n\n") == (False, {}, [])
    assert copy.parse_probe("failed\n{\"phase\": \"failed\", \"error\": \"x\"}\n")[:2] == (
        False, {"phase": "failed", "error": "x"})
    assert copy.parse_probe("") == (False, {}, [])
    # A state file caught half-written is no state, not an error.
    assert copy.parse_probe('activating\n{"phase": "cop\n')[:2] == (True, {})
