"""The digests against a real PostgreSQL: a recheck of some buckets equals those buckets of the
full digest, and finds them through the key's index instead of reading the table."""

from __future__ import annotations

import pytest

from tests.data.test_postgres_plan import table
from toolkit.data.postgres import checksums
from toolkit.data.postgres.ranges import KeyBuckets

pytestmark = pytest.mark.postgres


def test_rechecked_buckets_equal_the_full_digests_and_use_the_key(postgres_server) -> None:
    items = table(name="items", columns=("id", "v"))
    buckets = KeyBuckets(1, 1000)
    with postgres_server.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS public.items")
        conn.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, v text)")
        conn.execute("INSERT INTO public.items SELECT i, md5(i::text) FROM generate_series(1, 50000) i")
        conn.execute("ANALYZE public.items")
        try:
            def digest(sql: str) -> list[dict[str, object]]:
                row = conn.execute(sql).fetchone()
                assert row is not None
                return list(row[0])

            whole = {d["bucket"]: d for d in digest(checksums.digest_sql(items, buckets))}
            rechecked = checksums.digest_sql(items, buckets, [2, 3, 17], 48)
            assert digest(rechecked) == [whole[b] for b in (2, 3, 17, 48, 49)]
            plan = "\n".join(row[0] for row in conn.execute("EXPLAIN " + rechecked).fetchall())
            assert "items_pkey" in plan, plan
            conn.execute("UPDATE public.items SET v = 'changed' WHERE id = 17001")
            changed = digest(rechecked)
            assert checksums.compare([whole[b] for b in (2, 3, 17, 48, 49)], changed) == [
                "bucket 17: same 1000 rows counted, different content"]
        finally:
            conn.execute("DROP TABLE public.items")


def test_a_ceiling_leaves_out_the_rows_added_above_it(postgres_server) -> None:
    """A drill's recheck: rows added above the largest key at its marker are not compared."""
    from toolkit.data.postgres.verify import Unsettled, key_ceilings

    items = table(name="items", columns=("id", "v"))
    buckets = KeyBuckets(1, 1000)
    with postgres_server.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS public.items")
        conn.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, v text)")
        conn.execute("INSERT INTO public.items SELECT i, md5(i::text) FROM generate_series(1, 4200) i")
        try:
            ceilings = key_ceilings(conn, [Unsettled(items.label, 1, 1000, [1], 3)])
            assert ceilings == {items.label: 4200}
            bounded = checksums.digest_sql(items, buckets, [1], 3, ceilings[items.label])
            before = conn.execute(bounded).fetchone()[0]
            assert [d["rows"] for d in before] == [1000, 1000, 200]  # buckets 1, 3 and 4 (to 4200)
            conn.execute("INSERT INTO public.items SELECT i, 'after' FROM generate_series(4201, 6000) i")
            assert conn.execute(bounded).fetchone()[0] == before
            conn.execute("UPDATE public.items SET v = 'changed' WHERE id = 4100")
            assert checksums.compare(before, conn.execute(bounded).fetchone()[0]) == [
                "bucket 4: same 200 rows counted, different content"]
        finally:
            conn.execute("DROP TABLE public.items")


def test_a_ceiling_also_bounds_a_table_of_one_bucket(postgres_server) -> None:
    items = table(name="items", columns=("id", "v"))
    with postgres_server.connect() as conn:
        conn.execute("DROP TABLE IF EXISTS public.items")
        conn.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, v text)")
        conn.execute("INSERT INTO public.items SELECT i, md5(i::text) FROM generate_series(1, 300) i")
        try:
            bounded = checksums.digest_sql(items, KeyBuckets(0, 0), [0], 0, 300)
            before = conn.execute(bounded).fetchone()[0]
            conn.execute("INSERT INTO public.items VALUES (301, 'after the marker')")
            assert conn.execute(bounded).fetchone()[0] == before and before[0]["rows"] == 300
        finally:
            conn.execute("DROP TABLE public.items")
