"""The copy spread over processes: every object arrives once, proven, from two moto servers."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.moto import MOTO_CREDENTIALS, running_moto
from toolkit.data.objects.remote import s3http, store, transfer, worker
from toolkit.data.objects.remote.manifest import Listed
from toolkit.data.objects.remote.pool import LARGE_OBJECT, CopyPool, Waiting

BUCKET = "pool-bucket"


def side(url: str) -> dict[str, Any]:
    return {"endpoint": url, "region": "us-east-1", "access_key": MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "secret_key": MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}


@pytest.fixture(scope="module")
def stores() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    with running_moto() as source, running_moto() as target:
        yield side(source), side(target)


def test_processes_copy_every_object_once_and_name_the_one_that_vanished(
        stores: tuple[dict[str, Any], dict[str, Any]]) -> None:
    source_side, target_side = stores
    source, target = store.client(source_side, 4), store.client(target_side, 4)
    source.create_bucket(Bucket=BUCKET)
    target.create_bucket(Bucket=BUCKET)
    bodies = {f"k/{i:03d}": hashlib.sha256(str(i).encode()).digest() * (1 + i % 50) for i in range(60)}
    bodies["k/large"] = bytes(range(256)) * 4096 * 12  # 12 MiB: in parts below
    for key, body in bodies.items():
        source.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata={"n": key})
    items = worker.listing(s3http.from_side(source_side), BUCKET)
    source.delete_object(Bucket=BUCKET, Key="k/007")  # after the listing, as a serving source does
    pool = CopyPool(lambda: (store.Store(source_side, 4), store.Store(target_side, 4)),
                    transfer.Settings(threshold=8 * 1024 * 1024, min_part=5 * 1024 * 1024),
                    processes=2, threads=5)
    with pool:
        outcomes = list(pool.copy([items[:10], [], items[10:30]]))
        outcomes += pool.copy([items[30:]])  # the same processes, warm, take the next batch
    assert sorted(o.listed.key for o in outcomes) == sorted(bodies)
    vanished = [o.listed.key for o in outcomes if o.vanished]
    assert vanished == ["k/007"]
    assert [o.error for o in outcomes if o.entry is None and not o.vanished] == []
    for outcome in outcomes:
        if outcome.entry is not None:
            assert outcome.entry.sha256 == hashlib.sha256(bodies[outcome.listed.key]).hexdigest()
            got = target.get_object(Bucket=BUCKET, Key=outcome.listed.key)
            assert got["Body"].read() == bodies[outcome.listed.key]
    assert pool.processes == 2 and pool.children_max_rss_kb > 0


def test_copy_starts_with_the_first_page_and_a_large_object_listed_later_jumps_the_queue(
        stores: tuple[dict[str, Any], dict[str, Any]]) -> None:
    source_side, target_side = stores
    source = store.client(source_side, 4)
    bucket = "pool-pages"
    source.create_bucket(Bucket=bucket)
    store.client(target_side, 4).create_bucket(Bucket=bucket)
    for i in range(30):
        source.put_object(Bucket=bucket, Key=f"small/{i:02d}", Body=b"x" * (100 + i))
    source.put_object(Bucket=bucket, Key="z-large", Body=b"y" * 3_000_000)
    listed = worker.listing(s3http.from_side(source_side), bucket)
    small = [item for item in listed if item.size < 1000]
    large = [item for item in listed if item.size > 1000]
    first_done = threading.Event()

    def pages() -> Iterator[list[Any]]:
        yield small
        assert first_done.wait(30)  # the copy began before the listing's next page
        yield large
        ended.set()

    ended = threading.Event()
    pool = CopyPool(lambda: (store.Store(source_side, 4), store.Store(target_side, 4)), transfer.Settings(),
                    processes=1, threads=1)
    keys = []
    with pool:
        for outcome in pool.copy(pages()):
            assert outcome.entry is not None, outcome.error
            keys.append(outcome.listed.key)
            first_done.set()
    assert sorted(keys) == sorted(item.key for item in listed) and ended.is_set()
    # Two smalls were in the processes' queue (the window); the large one came next, not last.
    assert keys.index("z-large") < 10, keys


def test_a_listing_that_fails_mid_copy_fails_the_copy(stores: tuple[dict[str, Any], dict[str, Any]]) -> None:
    source_side, target_side = stores
    source = store.client(source_side, 4)
    bucket = "pool-broken"
    source.create_bucket(Bucket=bucket)
    store.client(target_side, 4).create_bucket(Bucket=bucket)
    source.put_object(Bucket=bucket, Key="one", Body=b"1")

    def pages() -> Iterator[list[Any]]:
        yield worker.listing(s3http.from_side(source_side), bucket)
        raise ConnectionError("the listing's second page: connection reset")

    pool = CopyPool(lambda: (store.Store(source_side, 4), store.Store(target_side, 4)), transfer.Settings(),
                    processes=2, threads=2)
    with pytest.raises(ConnectionError, match="second page"), pool:
        list(pool.copy(pages()))


def test_large_objects_leave_threads_to_small_ones_while_small_ones_wait() -> None:
    def listed(key: str, size: int) -> Listed:
        return Listed("b", key, size, "", "")

    waiting = Waiting(large_slots=2)
    for i in range(4):
        waiting.add(listed(f"large-{i}", LARGE_OBJECT + i))
    for i in range(3):
        waiting.add(listed(f"small-{i}", 10 + i))
    # Two large ones (the largest first), then only small ones while they wait.
    handed = [waiting.pop() for _ in range(4)]
    assert [h.key for h in handed] == ["large-3", "large-2", "small-2", "small-1"]
    waiting.done(handed[0])  # a large one done: its slot goes to the next large one
    assert waiting.pop().key == "large-1"
    assert waiting.pop().key == "small-0"
    # No small one waits: the last large one takes a thread though two are out.
    assert waiting.large_out == 2 and waiting.pop().key == "large-0"
    assert not waiting
