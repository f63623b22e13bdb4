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
